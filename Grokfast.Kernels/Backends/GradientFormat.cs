using Grokfast.Kernels.Engine;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// The element type of a flat gradient buffer: what a pass reads the gradients as and writes them back in. The filter
/// state is float32 for the first three and float64 for float64; a model whose parameters mix them gets one buffer, and
/// one pass, per format.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Named after the dtypes they are.")]
public enum GradientFormat
{
    /// <summary>IEEE binary32.</summary>
    Float32,

    /// <summary>bfloat16: float32's exponent, 7 fraction bits.</summary>
    BFloat16,

    /// <summary>IEEE binary16.</summary>
    Float16,

    /// <summary>IEEE binary64: filtered in double, with float64 state, on the CPU twins only.</summary>
    Float64,
}

/// <summary>What a <see cref="GradientFormat"/> decides outside the filters' kernels: its size and its non-finite scan.</summary>
internal static class GradientFormats
{
    /// <summary>Bytes per gradient element.</summary>
    public static int ElementSize(this GradientFormat format) => format switch
    {
        GradientFormat.Float32 => sizeof(float),
        GradientFormat.Float64 => sizeof(double),
        _ => sizeof(ushort),
    };

    /// <summary>Whether the filters keep float64 state for gradients of <paramref name="format"/> (float32 otherwise).</summary>
    public static bool HasFloat64State(this GradientFormat format) => format == GradientFormat.Float64;

    /// <summary>True when none of the <paramref name="length"/> gradients at <paramref name="data"/> is NaN or ±Inf (host memory).</summary>
    public static bool AllFinite(this GradientFormat format, nint data, long length) => format switch
    {
        GradientFormat.Float32 => FiniteScan<float, Float32Format>.AllFinite(data, length),
        GradientFormat.BFloat16 => FiniteScan<ushort, BFloat16Format>.AllFinite(data, length),
        GradientFormat.Float16 => FiniteScan<ushort, Float16Format>.AllFinite(data, length),
        GradientFormat.Float64 => FiniteScan<double, Float64.Float64FiniteTest>.AllFinite(data, length),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown gradient format."),
    };

    /// <summary>Writes the sums of squares of the blocks of the <paramref name="length"/> gradients at <paramref name="data"/> to <paramref name="sums"/> (<see cref="GradientNorm"/>; host memory).</summary>
    public static unsafe void BlockSums(this GradientFormat format, nint data, long length, double* sums)
    {
        switch (format)
        {
            case GradientFormat.Float32: GradientNorm<float, Float32Format>.BlockSums(data, length, sums); break;
            case GradientFormat.BFloat16: GradientNorm<ushort, BFloat16Format>.BlockSums(data, length, sums); break;
            case GradientFormat.Float16: GradientNorm<ushort, Float16Format>.BlockSums(data, length, sums); break;
            default: throw new ArgumentOutOfRangeException(nameof(format), format, "Fused clipping takes float32, bfloat16 and float16 gradients.");
        }
    }

    /// <summary>The ILGPU lane kernel (data, lanes) of the gradients' norm (<see cref="GradientNorm"/>), for the CUDA path.</summary>
    public static Delegate NormLaneKernel(this GradientFormat format) => format switch
    {
        GradientFormat.Float32 => (Action<ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<double>>)GradientNorm<float, Float32Format>.LaneKernel,
        GradientFormat.BFloat16 => (Action<ILGPU.Index1D, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<double>>)GradientNorm<ushort, BFloat16Format>.LaneKernel,
        GradientFormat.Float16 => (Action<ILGPU.Index1D, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<double>>)GradientNorm<ushort, Float16Format>.LaneKernel,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Fused clipping takes float32, bfloat16 and float16 gradients."),
    };

    /// <summary>The ILGPU scan kernel (data, found) that sets <c>found[0]</c> on a NaN or ±Inf, for the CUDA path.</summary>
    public static Delegate ScanKernel(this GradientFormat format) => format switch
    {
        GradientFormat.Float32 => (Action<ILGPU.Index1D, ILGPU.ArrayView<float>, ILGPU.ArrayView<int>>)FiniteScan<float, Float32Format>.Kernel,
        GradientFormat.BFloat16 => (Action<ILGPU.Index1D, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<int>>)FiniteScan<ushort, BFloat16Format>.Kernel,
        GradientFormat.Float16 => (Action<ILGPU.Index1D, ILGPU.ArrayView<ushort>, ILGPU.ArrayView<int>>)FiniteScan<ushort, Float16Format>.Kernel,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown gradient format."),
    };
}
