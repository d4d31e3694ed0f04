using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using ILGPU.Runtime.Cuda;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// Every ILGPU kernel compiles to PTX for the GPUs we target, with no GPU or driver on the machine, and declares
/// the parameters the driver-API launcher passes.
/// </summary>
public sealed partial class PtxGenerationTests
{
    public static TheoryData<string> Kernels() => new(KernelMethods.Keys);

    /// <summary>
    /// Every kernel the engine launches: each filter's pass for every format and update ("ema-Float32-WriteBack"), each
    /// filter's prepare kernel ("ema-prepare"), the non-finite scan per format, the record of a step, and fused
    /// clipping's norm kernels (lanes per format, columns, folds, clip).
    /// </summary>
    private static readonly Dictionary<string, MethodInfo> KernelMethods = new[]
    {
        Filter<EmaSettings, EmaConstants>("ema"), Filter<KalmanSettings, KalmanConstants>("kalman"),
        Filter<WindowedMeanSettings, WindowedMeanConstants>("ma"), Filter<NoFilter, NoFilter>("none"),
        [
            new("finite-scan-Float32", GradientFormat.Float32.ScanKernel().Method),
            new("finite-scan-BFloat16", GradientFormat.BFloat16.ScanKernel().Method),
            new("finite-scan-Float16", GradientFormat.Float16.ScanKernel().Method),
            new("record", ((Delegate)FiniteScan.Record).Method),
            new("norm-lanes-Float32", GradientFormat.Float32.NormLaneKernel().Method),
            new("norm-lanes-BFloat16", GradientFormat.BFloat16.NormLaneKernel().Method),
            new("norm-lanes-Float16", GradientFormat.Float16.NormLaneKernel().Method),
            new("norm-columns", ((Delegate)GradientNorm.SumKernel<BlockTerms>).Method),
            new("norm-folds", ((Delegate)GradientNorm.SumKernel<ValueTerms>).Method),
            new("norm-clip", ((Delegate)GradientNorm.ClipKernel).Method),
        ],
    }.SelectMany(kernels => kernels).ToDictionary();

    [Theory]
    [InlineData("ema-Float32-WriteBack")]
    [InlineData("ma-BFloat16-AdamMaster")]
    [InlineData("kalman-Float16-AdamDirect")]
    [InlineData("finite-scan-Float32")]
    [InlineData("norm-lanes-BFloat16")]
    public void Pass_CompilesToPtxForHopper_WithA64BitGridStrideLoop(string name)
    {
        string ptx = Compile(name).Assembly;

        // ILGPU 1.5.3 emits sm_80 code for an sm_90 request; the driver JIT-compiles it for the chip.
        Assert.Matches(@"\.target sm_(80|90)\b", ptx);
        // The loop compares a 64-bit index with the 64-bit length: buffers over 2^31 elements need no second launch.
        Assert.Matches(@"\bsetp\.(lt|ge)\.s64\b", ptx);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_DeclaresTheParametersItsSignatureGives(string name)
    {
        PtxKernel kernel = Compile(name);

        Assert.Contains($".entry {kernel.EntryName}(", kernel.Assembly, StringComparison.Ordinal);
        int[] declared = ParameterDeclaration().Matches(kernel.Assembly)
            .Select(m => m.Groups["bytes"].Success ? int.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture) : int.Parse(m.Groups["bits"].Value, CultureInfo.InvariantCulture) / 8)
            .ToArray();
        // First the launch's thread count (a 32-bit integer), then the kernel's own parameters, whose sizes the launcher
        // derives from the signature and checks every launch against.
        Assert.Equal([sizeof(int), .. KernelArgument.ParameterSizes(KernelMethods[name])], declared);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_Ptx_HasNoFloatOperationPtxasMayFuse(string name)
    {
        string ptx = Compile(name).Assembly;

        // A mul and an add without a rounding modifier may become one fma, rounding once where the CPU twins round twice.
        Assert.DoesNotMatch(@"\b(add|sub|mul)\.f(32|64)\b", ptx);
        Assert.DoesNotMatch(@"\b(fma|mad)(\.\w+)*\.f(32|64)\b", ptx);
    }

    [Theory]
    [InlineData("ema-Float32-WriteBack")]
    [InlineData("ma-Float32-WriteBack")]
    [InlineData("kalman-Float32-WriteBack")]
    public void FilterKernel_Ptx_RoundsEveryProductAndSumToNearest(string name)
    {
        string ptx = Compile(name).Assembly;

        Assert.Matches(@"\bmul\.rn\.f32\b", ptx);
        Assert.Matches(@"\badd\.rn\.f32\b", ptx);
    }

    [Theory]
    [InlineData("ema-Float32-AdamDirect", 5, 4)]
    [InlineData("kalman-Float32-WriteBack", 5, 2)]
    [InlineData("none-Float32-AdamDirect", 4, 3)]
    public void Float32Pass_Ptx_LoadsAndStoresEachStreamSixteenBytesAtATime(string name, int streamsRead, int streamsWritten)
    {
        string ptx = Compile(name).Assembly;

        // Each float32 stream read as four floats at once where the views are aligned (the EMA with Adam: g, the average,
        // p, m and v), and each written so (the average, p, m and v). The Kalman pass's 48 bytes of constants (its two
        // and Adam's ten floats) load as three more.
        Assert.Equal(streamsRead, Regex.Count(ptx, @"\bld(\.global)?\.v4\.f32\b"));
        Assert.Equal(streamsWritten, Regex.Count(ptx, @"\bst(\.global)?\.v4\.f32\b"));
    }

    [Theory]
    [InlineData("none-Float32-AdamDirect")]
    [InlineData("ema-BFloat16-AdamMaster")]
    [InlineData("ma-Float16-AdamDirect")]
    [InlineData("kalman-Float32-AdamDirect")]
    public void AdamPass_Ptx_TakesIeeeSquareRootsAndDivisions(string name)
    {
        string ptx = Compile(name).Assembly;

        // Correctly rounded, as the CPU twin's Vector.SquareRoot and division.
        Assert.Matches(@"\bsqrt\.rn\.f32\b", ptx);
        Assert.Matches(@"\bdiv\.rn\.f32\b", ptx);
    }

    [Fact]
    public void RoundEachOperation_GivesFloatAddSubAndMulRoundToNearest_AndLeavesTheRest()
    {
        const string ptx = "add.f32 %f3, %f1, %f2;\nsub.f64 %fd2, %fd1, %fd0;\nmul.f32 %f4, %f3, %f0;\nadd.s64 %rd2, %rd1, 4;\nmul.lo.u64 %rd3, %rd2, 4;\nmul.rn.f32 %f5, %f4, %f4;";

        Assert.Equal("add.rn.f32 %f3, %f1, %f2;\nsub.rn.f64 %fd2, %fd1, %fd0;\nmul.rn.f32 %f4, %f3, %f0;\nadd.s64 %rd2, %rd1, 4;\nmul.lo.u64 %rd3, %rd2, 4;\nmul.rn.f32 %f5, %f4, %f4;",
            PtxRounding.RoundEachOperation(ptx));
    }

    [Theory]
    [InlineData("none-prepare")]
    [InlineData("ema-prepare")]
    [InlineData("ma-prepare")]
    [InlineData("kalman-prepare")]
    public void AdamPrepare_Ptx_DerivesTheBiasCorrectionsInDoubleWithIeeeSquareRootAndDivision(string name)
    {
        string ptx = Compile(name).Assembly;

        // β^t by squaring and the corrections in double, as the host computes them; the square root and the
        // division correctly rounded, so the device's constants equal the host's bit for bit.
        Assert.Matches(@"\bmul\.rn\.f64\b", ptx);
        Assert.Matches(@"\bsqrt\.rn\.f64\b", ptx);
        Assert.Matches(@"\bdiv\.rn\.f64\b", ptx);
    }

    [Fact]
    public void WindowedMeanKernel_KeepsItsRunningSumInDoublePrecision()
    {
        string ptx = Compile("ma-Float32-WriteBack").Assembly;

        // The sum is loaded, updated and stored as a double: a float32 sum would show as ld/st.f32 only.
        Assert.Matches(@"\bld(\.global)?\.f64\b", ptx);
        Assert.Matches(@"\bst(\.global)?\.f64\b", ptx);
        Assert.Matches(@"\bsub\.rn\.f64\b", ptx);
        Assert.Matches(@"\badd\.rn\.f64\b", ptx);
    }

    private static PtxKernel Compile(string name) =>
        PtxCompiler.Compile(KernelMethods[name], CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);

    // The filter's pass for every format and update the engine instantiates, and its prepare kernel.
    private static IEnumerable<KeyValuePair<string, MethodInfo>> Filter<TSettings, TFilter>(string name)
        where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
        where TFilter : unmanaged, IFilterStep<TFilter> =>
        Passes.Instantiations.Select(i => new KeyValuePair<string, MethodInfo>($"{name}-{i.Format}-{i.Update}", Passes.KernelOf<TFilter>(i.Format, i.Update)))
            .Append(new($"{name}-prepare", ((Delegate)PrepareKernel<TSettings, TFilter>.Kernel).Method));

    [GeneratedRegex(@"\.param\s+(?:\.align\s+\d+\s+)?\.[bfsu](?<bits>\d+)\s+\w+(?:\[(?<bytes>\d+)\])?")]
    private static partial Regex ParameterDeclaration();
}
