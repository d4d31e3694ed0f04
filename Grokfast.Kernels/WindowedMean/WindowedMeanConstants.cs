// Windowed mean (Grokfast-MA) with O(1) work per element: the ring slot this step writes holds the oldest gradient of
// the window (zeros while the window fills), so sum += g - slot; slot = g; and, when the step applies,
// g += lamb * sum * scale. State: the ring (window slots of one float32 per element; the estimate is this step's slot)
// and the running sum, float64 so it cannot drift (kernels.md).
using Grokfast.Kernels.Engine;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>The windowed-mean filter's per-step scalars, computed once on the host.</summary>
/// <param name="Slot">Ring slot this step writes: it holds the oldest gradient once the window is full, zeros before.</param>
/// <param name="Scale">Multiplier turning the window's sum into the filter's average: 1/held for mean, 1 for sum.</param>
/// <param name="Lamb">Amplification of the average.</param>
/// <param name="Apply">1 when this step adds <c>lamb * average</c> to the gradient, 0 when it only records it.</param>
public readonly record struct WindowedMeanConstants(long Slot, double Scale, float Lamb, int Apply) : IFilterStep<WindowedMeanConstants>
{
    /// <summary>
    /// The constants for a step taken after <paramref name="stepsBefore"/> earlier ones, with the reference's
    /// rule: the gradient is appended first, and the filter applies when
    /// <c>not warmup or (held == window_size and not trigger)</c>.
    /// </summary>
    public static WindowedMeanConstants For(long stepsBefore, int windowSize, bool mean, double lamb, bool warmup, bool trigger)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepsBefore);
        return WindowedMeanSettings.From(windowSize, mean, lamb, warmup, trigger).At(stepsBefore);
    }

    static bool IFilterStep<WindowedMeanConstants>.KeepsEstimate => true;

    static bool IFilterStep<WindowedMeanConstants>.KeepsSum => true;

    static bool IFilterStep<WindowedMeanConstants>.ReadsEstimate(WindowedMeanConstants constants) => true;

    static bool IFilterStep<WindowedMeanConstants>.ChangesGradient(WindowedMeanConstants constants) => constants.Apply != 0;

    static long IFilterStep<WindowedMeanConstants>.EstimateOffset(WindowedMeanConstants constants, long stride) => constants.Slot * stride;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static FilteredElement IFilterStep<WindowedMeanConstants>.Element(WindowedMeanConstants c, float g, float oldest, double sum)
    {
        double next = sum - oldest + g;
        return new FilteredElement(c.Apply != 0 ? g + c.Lamb * (float)(next * c.Scale) : g, g, next);
    }

    static FilterLanes IFilterStep<WindowedMeanConstants>.Broadcast(WindowedMeanConstants c) => new(new(c.Lamb), default, default, new(c.Scale));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<float> IFilterStep<WindowedMeanConstants>.Lanes(WindowedMeanConstants c, in FilterLanes lanes, Vector<float> g, ref Vector<float> oldest, ref Vector<double> sumLow, ref Vector<double> sumHigh)
    {
        (Vector<float> lamb, Vector<double> scale) = (lanes.First, lanes.Wide);
        Vector.Widen(g, out Vector<double> gLow, out Vector<double> gHigh);
        Vector.Widen(oldest, out Vector<double> oldLow, out Vector<double> oldHigh);
        sumLow = sumLow - oldLow + gLow;
        sumHigh = sumHigh - oldHigh + gHigh;
        oldest = g;
        if (c.Apply == 0) return g;
        return g + lamb * Vector.Narrow(sumLow * scale, sumHigh * scale);
    }
}
