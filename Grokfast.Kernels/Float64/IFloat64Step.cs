using System.Numerics;

namespace Grokfast.Kernels.Float64;

/// <summary>
/// A filter's step on float64 gradients with float64 state, all in double with double hyperparameters, as the reference
/// computes on float64 tensors: the float64 counterpart of <see cref="Engine.IFilterStep{TSelf}"/>, run by
/// <see cref="Float64Pass{TFilter}"/> (the CPU twin only). Every float64 filter keeps an estimate per element (the
/// EMA's average, the Kalman estimate, the windowed mean's ring slot); the windowed mean a sum too.
/// </summary>
/// <typeparam name="TSelf">The filter's float64 step constants.</typeparam>
internal interface IFloat64Step<TSelf>
    where TSelf : unmanaged, IFloat64Step<TSelf>
{
    /// <summary>Whether the filter keeps a float64 sum per element.</summary>
    static abstract bool KeepsSum { get; }

    /// <summary>Whether this step reads the estimate.</summary>
    static abstract bool ReadsEstimate(TSelf constants);

    /// <summary>Whether this step changes the gradient.</summary>
    static abstract bool ChangesGradient(TSelf constants);

    /// <summary>Where this step's estimates start in the estimate buffer, whose slots are <paramref name="stride"/> apart.</summary>
    static abstract long EstimateOffset(TSelf constants, long stride);

    /// <summary>One element's step: the filtered gradient, the state updated in place (0 where not kept or not read).</summary>
    static abstract double Element(TSelf constants, double g, ref double estimate, ref double sum);

    /// <summary><see cref="Element"/> on one vector of lanes: the same operations in the same order.</summary>
    static abstract Vector<double> Lanes(TSelf constants, Vector<double> g, ref Vector<double> estimate, ref Vector<double> sum);
}
