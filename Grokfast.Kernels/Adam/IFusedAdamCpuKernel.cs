using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// The fused Adam/AdamW step over one gradient group's buffers in host memory — alone, or with a filter whose state lies
/// in the group's layout — whatever the group's element type: what each filter calls per run.
/// </summary>
internal interface IFusedAdamCpuKernel
{
    /// <summary>Adam's step alone over elements [offset, offset + count).</summary>
    void Step(long offset, long count, AdamConstants adam);

    /// <summary>The EMA filter (the group's average at <paramref name="average"/>) and Adam's step in one pass over elements [offset, offset + count).</summary>
    void Step(long offset, long count, nint average, EmaConstants filter, AdamConstants adam);

    /// <summary>The Kalman filter (the group's estimates at <paramref name="estimates"/>) and Adam's step in one pass over elements [offset, offset + count).</summary>
    void Step(long offset, long count, nint estimates, KalmanConstants filter, AdamConstants adam);

    /// <summary>
    /// The windowed-mean filter (the group's ring of <paramref name="windowSize"/> slots of its length at <paramref name="ring"/>,
    /// float64 sums at <paramref name="sums"/>) and Adam's step in one pass over elements [offset, offset + count).
    /// </summary>
    void Step(long offset, long count, nint ring, nint sums, int windowSize, WindowedMeanConstants filter, AdamConstants adam);
}
