// EMA: ema = alpha*ema + (1-alpha)*g; g += lamb*ema, the average starting at the first gradient.
// State: the average, one float32 per element (the estimate). On the first step it is written, not read.
using Grokfast.Kernels.Engine;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Ema;

/// <summary>
/// The EMA filter's per-step scalars, computed once on the host (or by the CUDA path's prepare kernel) and passed by value
/// to every thread.
/// </summary>
/// <param name="Alpha">Momentum of the average, in [0, 1).</param>
/// <param name="OneMinusAlpha">1 − alpha, computed once in float32 as the reference does.</param>
/// <param name="Lamb">Amplification of the slow component.</param>
/// <param name="Initialize">1 on the first step: the average starts at the first gradient; 0 after.</param>
public readonly record struct EmaConstants(float Alpha, float OneMinusAlpha, float Lamb, int Initialize) : IFilterStep<EmaConstants>
{
    /// <summary>The constants for one step.</summary>
    public static EmaConstants For(double alpha, double lamb, bool firstStep) => EmaSettings.From(alpha, lamb).At(firstStep ? 0 : 1);

    static bool IFilterStep<EmaConstants>.KeepsEstimate => true;

    static bool IFilterStep<EmaConstants>.KeepsSum => false;

    static bool IFilterStep<EmaConstants>.ReadsEstimate(EmaConstants constants) => constants.Initialize == 0;

    static bool IFilterStep<EmaConstants>.ChangesGradient(EmaConstants constants) => true;

    static long IFilterStep<EmaConstants>.EstimateOffset(EmaConstants constants, long stride) => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static FilteredElement IFilterStep<EmaConstants>.Element(EmaConstants c, float g, float estimate, double sum)
    {
        float next = c.Alpha * (c.Initialize != 0 ? g : estimate) + c.OneMinusAlpha * g;
        return new FilteredElement(g + c.Lamb * next, next, 0);
    }

    static FilterLanes IFilterStep<EmaConstants>.Broadcast(EmaConstants c) => new(new(c.Alpha), new(c.OneMinusAlpha), new(c.Lamb), default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<float> IFilterStep<EmaConstants>.Lanes(EmaConstants c, in FilterLanes lanes, Vector<float> g, ref Vector<float> estimate, ref Vector<double> sumLow, ref Vector<double> sumHigh)
    {
        (Vector<float> alpha, Vector<float> oneMinusAlpha, Vector<float> lamb) = (lanes.First, lanes.Second, lanes.Third);
        estimate = alpha * (c.Initialize != 0 ? g : estimate) + oneMinusAlpha * g;
        return g + lamb * estimate;
    }
}
