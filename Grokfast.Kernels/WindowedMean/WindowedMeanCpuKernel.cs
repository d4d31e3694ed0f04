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
        var job = new FilterJob(gradients + offset, ring + constants.Slot * this.length + offset, sums + offset, constants);
        CpuParallel.For(length, ref job);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Owns no memory: the buffers belong to the caller.
    }

    private readonly struct FilterJob(float* gradients, float* slot, double* sums, WindowedMeanConstants constants) : IRangeJob
    {
        public void Run(long start, long count) => WindowedMeanKernels.FilterRange(gradients + start, slot + start, sums + start, count, constants);
    }
}
