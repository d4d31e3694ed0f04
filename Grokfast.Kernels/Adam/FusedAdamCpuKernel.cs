using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// Runs the fused Adam/AdamW step — alone, or with the EMA, windowed-mean or Kalman filter in the same pass — over host
/// memory, split over cores (on libtorch's OpenMP team when bound). Gradients, parameters and moments are bound once,
/// flat and in the same layout; each filtered step names the filter's state, which lies in that layout too.
/// </summary>
internal sealed unsafe class FusedAdamCpuKernel : IFusedAdamCpuKernel
{
    private float* gradients;
    private float* parameters;
    private float* firstMoments;
    private float* secondMoments;
    private long length;

    /// <summary>Points the kernel at its buffers of <paramref name="length"/> elements; call again whenever any moves.</summary>
    public void Bind(nint gradients, nint parameters, nint firstMoments, nint secondMoments, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = (float*)gradients;
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

    /// <summary>The EMA filter (its average at <paramref name="average"/>) and Adam's step in one pass over elements [offset, offset + count).</summary>
    public void Step(long offset, long count, nint average, EmaConstants filter, AdamConstants adam)
    {
        CheckRange(offset, count);
        ArgumentOutOfRangeException.ThrowIfZero(average);
        var job = new EmaAdamJob(gradients + offset, (float*)average + offset, parameters + offset, firstMoments + offset, secondMoments + offset, filter, adam);
        CpuParallel.For(count, ref job);
    }

    /// <summary>The Kalman filter (its estimates at <paramref name="estimates"/>) and Adam's step in one pass over elements [offset, offset + count).</summary>
    public void Step(long offset, long count, nint estimates, KalmanConstants filter, AdamConstants adam)
    {
        CheckRange(offset, count);
        ArgumentOutOfRangeException.ThrowIfZero(estimates);
        var job = new KalmanAdamJob(gradients + offset, (float*)estimates + offset, parameters + offset, firstMoments + offset, secondMoments + offset, filter, adam);
        CpuParallel.For(count, ref job);
    }

    /// <summary>
    /// The windowed-mean filter (a ring of <paramref name="windowSize"/> slots of the bound length at <paramref name="ring"/>,
    /// float64 sums at <paramref name="sums"/>) and Adam's step in one pass over elements [offset, offset + count).
    /// </summary>
    public void Step(long offset, long count, nint ring, nint sums, int windowSize, WindowedMeanConstants filter, AdamConstants adam)
    {
        CheckRange(offset, count);
        ArgumentOutOfRangeException.ThrowIfZero(ring);
        ArgumentOutOfRangeException.ThrowIfZero(sums);
        ArgumentOutOfRangeException.ThrowIfNegative(filter.Slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(filter.Slot, windowSize);
        float* slot = (float*)ring + filter.Slot * length + offset;
        var job = new WindowedMeanAdamJob(gradients + offset, slot, (double*)sums + offset, parameters + offset, firstMoments + offset, secondMoments + offset, filter, adam);
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

    private readonly struct WindowedMeanAdamJob(float* g, float* slot, double* sum, float* p, float* m, float* v, WindowedMeanConstants filter, AdamConstants adam) : IRangeJob
    {
        public void Run(long start, long count) =>
            WindowedMeanAdamKernels.StepRange(g + start, slot + start, sum + start, p + start, m + start, v + start, count, filter, adam);
    }
}
