using System.Numerics;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// A Grokfast filter as every pass runs it: the type is the filter's per-step constants, and its static members say what
/// state it keeps per element and how one element, or one vector of lanes, steps. The passes (<see cref="PassKernel{TStore, TFormat, TFilter, TUpdate}"/>
/// on ILGPU, <see cref="CpuTwin{TStore, TFormat, TFilter, TUpdate}"/> on the CPU) do every load and store; a filter only computes.
/// </summary>
/// <remarks>
/// The state a filter may keep: an <em>estimate</em>, one float32 per element (the EMA's average, the Kalman estimate,
/// the windowed mean's ring slot — one of <c>window</c> slots, chosen per step by <see cref="EstimateOffset"/>), and a
/// <em>sum</em>, one float64 per element (the windowed mean's running sum).
/// </remarks>
/// <typeparam name="TSelf">The filter's constants.</typeparam>
public unsafe interface IFilterStep<TSelf>
    where TSelf : unmanaged, IFilterStep<TSelf>
{
    /// <summary>Whether the filter keeps an estimate per element.</summary>
    static abstract bool KeepsEstimate { get; }

    /// <summary>Whether the filter keeps a float64 sum per element.</summary>
    static abstract bool KeepsSum { get; }

    /// <summary>Whether this step reads the estimate (the EMA's first step starts from the gradient instead).</summary>
    static abstract bool ReadsEstimate(TSelf constants);

    /// <summary>Whether this step changes the gradient (the windowed mean only records until it applies).</summary>
    static abstract bool ChangesGradient(TSelf constants);

    /// <summary>Where this step's estimates start in the estimate buffer, whose slots are <paramref name="stride"/> apart.</summary>
    static abstract long EstimateOffset(TSelf constants, long stride);

    /// <summary>
    /// One element's step: the filtered gradient and the new state, from the raw gradient and the state before (0 for
    /// state the filter does not keep or this step does not read). Each product and sum rounds on its own, as in the
    /// reference's separate tensor operations (no fused multiply-add; see PtxRounding).
    /// </summary>
    static abstract FilteredElement Element(TSelf constants, float g, float estimate, double sum);

    /// <summary>The step's scalars broadcast to vector lanes, once per range, for <see cref="Lanes"/>.</summary>
    static abstract FilterLanes Broadcast(TSelf constants);

    /// <summary>
    /// <see cref="Element"/> on one vector of lanes, with the scalars <paramref name="lanes"/> broadcast from
    /// <paramref name="constants"/>: the same operations in the same order. The state is updated in place; the sum's
    /// lanes are two vectors of doubles, the low and the high half of <paramref name="g"/>'s lanes.
    /// </summary>
    static abstract Vector<float> Lanes(TSelf constants, in FilterLanes lanes, Vector<float> g, ref Vector<float> estimate, ref Vector<double> sumLow, ref Vector<double> sumHigh);
}

/// <summary>
/// A filter's hyperparameters, from which each step's constants are derived with the same operations on the host and, on
/// CUDA, by the prepare kernel on the device (<see cref="PrepareKernel{TSettings, TFilter}"/>).
/// </summary>
/// <typeparam name="TSelf">The settings.</typeparam>
/// <typeparam name="TFilter">The filter's per-step constants.</typeparam>
public interface IFilterSettings<TSelf, TFilter>
    where TSelf : unmanaged, IFilterSettings<TSelf, TFilter>
    where TFilter : unmanaged, IFilterStep<TFilter>
{
    /// <summary>The constants of the step taken after <paramref name="stepsBefore"/> earlier ones, with the covariance <paramref name="covariance"/> before it.</summary>
    static abstract TFilter At(TSelf settings, long stepsBefore, float covariance);

    /// <summary>The covariance after a step from <paramref name="covariance"/> (unchanged for filters without one).</summary>
    static abstract float NextCovariance(TSelf settings, float covariance);

    /// <summary>Estimate slots the filter's steps cycle through (the window; 1 for one estimate, 0 for none).</summary>
    static abstract int Slots(TSelf settings);
}

/// <summary>
/// A filter step's scalars broadcast to vector lanes once per range, so the CPU twin's loop does not broadcast them per
/// iteration: up to three float32 scalars and one float64, each filter saying which is which.
/// </summary>
/// <param name="First">The first float32 scalar (the EMA's alpha, the Kalman gain, the windowed mean's lamb).</param>
/// <param name="Second">The second (the EMA's 1 − alpha, the Kalman lamb).</param>
/// <param name="Third">The third (the EMA's lamb).</param>
/// <param name="Wide">The float64 scalar (the windowed mean's scale).</param>
public readonly record struct FilterLanes(Vector<float> First, Vector<float> Second, Vector<float> Third, Vector<double> Wide);

/// <summary>One element after a filter step.</summary>
/// <param name="Gradient">The filtered gradient (the raw one where the step does not change it).</param>
/// <param name="Estimate">The estimate after the step.</param>
/// <param name="Sum">The float64 sum after the step.</param>
public readonly record struct FilteredElement(float Gradient, float Estimate, double Sum);
