using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// One of the fused steps (Adam alone, or with a filter) over float32 gradients and parameters handed in per call, the
/// filter's state and the constants held: the 16-bit optimizer kernel runs it block by block on widened values.
/// </summary>
internal unsafe interface IFusedAdamRange
{
    /// <summary>
    /// Steps <paramref name="count"/> elements: gradients <paramref name="g"/>, parameters <paramref name="p"/> (updated in
    /// place), moments <paramref name="m"/> and <paramref name="v"/>; the filter's state from element <paramref name="start"/> of the run.
    /// </summary>
    void Step(float* g, float* p, float* m, float* v, long start, long count);
}

/// <summary>Adam's step alone.</summary>
internal readonly unsafe struct AdamRange(AdamConstants adam) : IFusedAdamRange
{
    public void Step(float* g, float* p, float* m, float* v, long start, long count) => AdamKernels.StepRange(g, p, m, v, count, adam);
}

/// <summary>The EMA filter (the run's average at <paramref name="average"/>) and Adam's step.</summary>
internal readonly unsafe struct EmaAdamRange(float* average, EmaConstants filter, AdamConstants adam) : IFusedAdamRange
{
    public void Step(float* g, float* p, float* m, float* v, long start, long count) =>
        EmaAdamKernels.StepRange(g, average + start, p, m, v, count, filter, adam);
}

/// <summary>The Kalman filter (the run's estimates at <paramref name="estimates"/>) and Adam's step.</summary>
internal readonly unsafe struct KalmanAdamRange(float* estimates, KalmanConstants filter, AdamConstants adam) : IFusedAdamRange
{
    public void Step(float* g, float* p, float* m, float* v, long start, long count) =>
        KalmanAdamKernels.StepRange(g, estimates + start, p, m, v, count, filter, adam);
}

/// <summary>The windowed mean (the run's part of this step's slot at <paramref name="slot"/>, its float64 sums at <paramref name="sums"/>) and Adam's step.</summary>
internal readonly unsafe struct WindowedMeanAdamRange(float* slot, double* sums, WindowedMeanConstants filter, AdamConstants adam) : IFusedAdamRange
{
    public void Step(float* g, float* p, float* m, float* v, long start, long count) =>
        WindowedMeanAdamKernels.StepRange(g, slot + start, sums + start, p, m, v, count, filter, adam);
}
