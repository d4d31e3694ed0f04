namespace Grokfast.Kernels.WindowedMean;

/// <summary>The windowed-mean filter's per-step scalars, computed once on the host.</summary>
/// <param name="Slot">Ring slot this step writes: it holds the oldest gradient once the window is full, zeros before.</param>
/// <param name="Scale">Multiplier turning the window's sum into the filter's average: 1/held for mean, 1 for sum.</param>
/// <param name="Lamb">Amplification of the average.</param>
/// <param name="Apply">1 when this step adds <c>lamb * average</c> to the gradient, 0 when it only records it.</param>
public readonly record struct WindowedMeanConstants(long Slot, double Scale, float Lamb, int Apply)
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
}
