using Grokfast.Kernels.Backends;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>Runs <see cref="WindowedMeanKernels"/>' vectorised twin over host memory, split over cores.</summary>
public sealed unsafe class WindowedMeanCpuKernel : IWindowedMeanKernel
{
    private float* gradients;
    private float* ring;
    private double* sums;
    private long length;
    private int windowSize;

    /// <inheritdoc />
    public void Bind(nint gradients, nint ring, nint sums, long length, int windowSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        this.gradients = (float*)gradients;
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
        float* g = gradients + offset;
        float* slot = ring + constants.Slot * this.length + offset;
        double* s = sums + offset;
        CpuParallel.For(length, (start, count) => WindowedMeanKernels.FilterRange(g + start, slot + start, s + start, count, constants));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Owns no memory: the buffers belong to the caller.
    }
}
