using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// Runs the fused Adam/AdamW step — alone, or with the EMA or Kalman filter in the same pass — over host memory, split over cores
/// (on libtorch's OpenMP team when bound), every buffer flat and in the same layout.
/// </summary>
internal sealed unsafe class FusedAdamCpuKernel
{
    private float* gradients;
    private float* filterState;
    private float* parameters;
    private float* firstMoments;
    private float* secondMoments;
    private long length;

    /// <summary>Points the kernel at its buffers (<paramref name="filterState"/> may be 0 when no filter runs); call again whenever any moves.</summary>
    public void Bind(nint gradients, nint filterState, nint parameters, nint firstMoments, nint secondMoments, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = (float*)gradients;
        this.filterState = (float*)filterState;
        this.parameters = (float*)parameters;
        this.firstMoments = (float*)firstMoments;
        this.secondMoments = (float*)secondMoments;
        this.length = length;
    }

    /// <summary>Adam's step alone over elements [offset, offset + count).</summary>
    public void Step(long offset, long count, AdamConstants adam)
    {
        CheckRange(offset, count);
        var job = new AdamJob(gradients + offset, parameters + offset, firstMoments + offset, secondMoments + offset, adam);
        CpuParallel.For(count, ref job);
    }

    /// <summary>The EMA filter and Adam's step in one pass over elements [offset, offset + count).</summary>
    public void Step(long offset, long count, EmaConstants filter, AdamConstants adam)
    {
        CheckRange(offset, count);
        if (filterState == null) throw new InvalidOperationException("Bind a filter state buffer before a filtered step.");
        var job = new EmaAdamJob(gradients + offset, filterState + offset, parameters + offset, firstMoments + offset, secondMoments + offset, filter, adam);
        CpuParallel.For(count, ref job);
    }

    /// <summary>The Kalman filter and Adam's step in one pass over elements [offset, offset + count).</summary>
    public void Step(long offset, long count, KalmanConstants filter, AdamConstants adam)
    {
        CheckRange(offset, count);
        if (filterState == null) throw new InvalidOperationException("Bind a filter state buffer before a filtered step.");
        var job = new KalmanAdamJob(gradients + offset, filterState + offset, parameters + offset, firstMoments + offset, secondMoments + offset, filter, adam);
        CpuParallel.For(count, ref job);
    }

    private void CheckRange(long offset, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, length - offset);
    }

    private readonly struct AdamJob(float* g, float* p, float* m, float* v, AdamConstants adam) : IRangeJob
    {
        public void Run(long start, long count) => AdamKernels.StepRange(g + start, p + start, m + start, v + start, count, adam);
    }

    private readonly struct EmaAdamJob(float* g, float* ema, float* p, float* m, float* v, EmaConstants filter, AdamConstants adam) : IRangeJob
    {
        public void Run(long start, long count) => EmaAdamKernels.StepRange(g + start, ema + start, p + start, m + start, v + start, count, filter, adam);
    }

    private readonly struct KalmanAdamJob(float* g, float* x, float* p, float* m, float* v, KalmanConstants filter, AdamConstants adam) : IRangeJob
    {
        public void Run(long start, long count) => KalmanAdamKernels.StepRange(g + start, x + start, p + start, m + start, v + start, count, filter, adam);
    }
}
