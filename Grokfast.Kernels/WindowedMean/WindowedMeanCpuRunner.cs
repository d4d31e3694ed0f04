using Grokfast.Kernels.Backends;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>
/// Runs a windowed-mean twin over gradients of element type <typeparamref name="TGradient"/> (float32, or 16-bit bit
/// patterns), a float32 ring and float64 sums in host memory, split over cores: the one runner behind
/// <see cref="WindowedMeanCpuKernel"/> and the 16-bit windowed mean's CPU kernel.
/// </summary>
/// <typeparam name="TGradient">The gradients' element type.</typeparam>
internal sealed unsafe class WindowedMeanCpuRunner<TGradient> : IWindowedMeanKernel
    where TGradient : unmanaged
{
    private readonly delegate*<TGradient*, float*, double*, long, WindowedMeanConstants, void> filterRange;
    private TGradient* gradients;
    private float* ring;
    private double* sums;
    private long length;
    private int windowSize;

    /// <summary>Wraps <paramref name="filterRange"/>(g, slot, sums, count, constants), which filters contiguous elements in place.</summary>
    public WindowedMeanCpuRunner(delegate*<TGradient*, float*, double*, long, WindowedMeanConstants, void> filterRange)
    {
        this.filterRange = filterRange;
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint ring, nint sums, long length, int windowSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        this.gradients = (TGradient*)gradients;
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
        var job = new FilterJob(filterRange, gradients + offset, ring + constants.Slot * this.length + offset, sums + offset, constants);
        CpuParallel.For(length, ref job);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Owns no memory: the buffers belong to the caller.
    }

    private readonly struct FilterJob(delegate*<TGradient*, float*, double*, long, WindowedMeanConstants, void> filterRange,
        TGradient* gradients, float* slot, double* sums, WindowedMeanConstants constants) : IRangeJob
    {
        public void Run(long start, long count) => filterRange(gradients + start, slot + start, sums + start, count, constants);
    }
}
