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
    public static bool AllFinite(this GradientFormat format, nint data, long length) =>
        format == GradientFormat.Float64
            ? FiniteScan<double, Float64.Float64FiniteTest>.AllFinite(data, length)
            : format.Instantiate<bool, Scan>(new Scan(data, length));

    /// <summary>Writes the sums of squares of the blocks of the <paramref name="length"/> gradients at <paramref name="data"/> to <paramref name="sums"/> (<see cref="GradientNorm"/>; host memory).</summary>
    public static unsafe void BlockSums(this GradientFormat format, nint data, long length, double* sums) =>
        format.Instantiate<bool, Norm>(new Norm(data, length, sums));

    /// <summary>The ILGPU lane kernel (data, lanes) of the gradients' norm (<see cref="GradientNorm"/>), for the CUDA path.</summary>
    public static Delegate NormLaneKernel(this GradientFormat format) => format.Instantiate<Delegate, NormKernel>(default);

    /// <summary>The ILGPU scan kernel (data, found) that sets <c>found[0]</c> on a NaN or ±Inf, for the CUDA path.</summary>
    public static Delegate ScanKernel(this GradientFormat format) => format.Instantiate<Delegate, ScanKernelOf>(default);

    /// <summary>
    /// What <paramref name="make"/> builds with the storage and format types of <paramref name="format"/>: the one map from
    /// a format to its types. float64 computes in double and has passes of its own, so it has no such types.
    /// </summary>
    internal static TResult Instantiate<TResult, TMake>(this GradientFormat format, TMake make)
        where TMake : struct, IFormatInstantiation<TResult> => format switch
    {
        GradientFormat.Float32 => make.Create<float, Float32Format>(),
        GradientFormat.BFloat16 => make.Create<ushort, BFloat16Format>(),
        GradientFormat.Float16 => make.Create<ushort, Float16Format>(),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "This takes float32, bfloat16 and float16 gradients (float64 has passes of its own)."),
    };

    private readonly struct Scan(nint data, long length) : IFormatInstantiation<bool>
    {
        public bool Create<TStore, TFormat>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore> => FiniteScan<TStore, TFormat>.AllFinite(data, length);
    }

    private readonly unsafe struct Norm(nint data, long length, double* sums) : IFormatInstantiation<bool>
    {
        public bool Create<TStore, TFormat>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore>
        {
            GradientNorm<TStore, TFormat>.BlockSums(data, length, sums);
            return true;
        }
    }

    private readonly struct NormKernel : IFormatInstantiation<Delegate>
    {
        public Delegate Create<TStore, TFormat>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore> =>
            (Action<ILGPU.Index1D, ILGPU.ArrayView<TStore>, ILGPU.ArrayView<double>>)GradientNorm<TStore, TFormat>.LaneKernel;
    }

    private readonly struct ScanKernelOf : IFormatInstantiation<Delegate>
    {
        public Delegate Create<TStore, TFormat>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore> =>
            (Action<ILGPU.Index1D, ILGPU.ArrayView<TStore>, ILGPU.ArrayView<int>>)FiniteScan<TStore, TFormat>.Kernel;
    }
}

/// <summary>Builds something for one gradient format's storage and format types (<see cref="GradientFormats.Instantiate{TResult, TMake}"/>).</summary>
/// <typeparam name="TResult">What it builds.</typeparam>
internal interface IFormatInstantiation<out TResult>
{
    /// <summary>Builds it for storage <typeparamref name="TStore"/> and format <typeparamref name="TFormat"/>.</summary>
    TResult Create<TStore, TFormat>()
        where TStore : unmanaged
        where TFormat : struct, IGradientFormat<TStore>;
}
