using System.Text.RegularExpressions;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// Pins the rounding of every floating-point add, subtract and multiply in a PTX module, so the GPU computes
/// exactly the IEEE operations the CPU twins compute. PTX lets ptxas contract a <c>mul</c> and a dependent
/// <c>add</c> without a rounding modifier into one <c>fma</c>, which rounds once instead of twice; ILGPU emits them
/// without one. With an explicit <c>.rn</c> (round to nearest even, the default mode made explicit) the PTX ISA
/// forbids that contraction, as <c>nvcc -fmad=false</c> does. Measured on an H100: no cost.
/// </summary>
internal static partial class PtxRounding
{
    /// <summary><paramref name="ptx"/> with <c>add</c>, <c>sub</c> and <c>mul</c> on f32 and f64 given <c>.rn</c>.</summary>
    public static string RoundEachOperation(string ptx)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        return UnroundedOperation().Replace(ptx, "${op}.rn.${type}");
    }

    [GeneratedRegex(@"\b(?<op>add|sub|mul)\.(?<type>f32|f64)\b")]
    private static partial Regex UnroundedOperation();
}
