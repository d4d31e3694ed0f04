using Grokfast.Kernels.Backends;
using Grokfast.Kernels.HalfPrecision;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>Runs <see cref="WindowedMeanHalfKernels{TFormat}"/>' vectorised twin over 16-bit gradients in host memory, split over cores (the gradients 2 bytes each; ring and sums as for float32).</summary>
/// <typeparam name="TFormat">The gradients' 16-bit format.</typeparam>
internal sealed unsafe class WindowedMeanHalfCpuKernel<TFormat> : IWindowedMeanKernel
    where TFormat : struct, IHalfFormat
{
    private ushort* gradients;
    private float* ring;
    private double* sums;
    private long length;
    private int windowSize;

    /// <inheritdoc />
    public void Bind(nint gradients, nint ring, nint sums, long length, int windowSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        this.gradients = (ushort*)gradients;
        this.ring = (float*)ring;
        this.sums = (double*)sums;
        this.length = length;
        this.windowSize = windowSize;
    }

    /// <inheritdoc />
    public void Filter(long offset, long length, WindowedMeanConstants constants)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, this.length - offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(constants.Slot, windowSize);
        var job = new FilterJob(gradients + offset, ring + constants.Slot * this.length + offset, sums + offset, constants);
        CpuParallel.For(length, ref job);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Owns no memory: the buffers belong to the caller.
    }

    private readonly struct FilterJob(ushort* gradients, float* slot, double* sums, WindowedMeanConstants constants) : IRangeJob
    {
        public void Run(long start, long count) => WindowedMeanHalfKernels<TFormat>.FilterRange(gradients + start, slot + start, sums + start, count, constants);
    }
}
