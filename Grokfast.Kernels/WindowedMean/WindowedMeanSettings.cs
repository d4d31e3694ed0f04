using Grokfast.Kernels.Engine;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>
/// The windowed-mean filter's hyperparameters as the kernels see them (flags as 0 or 1), from which the host and the
/// CUDA path's prepare kernel derive each step's constants with the same operations.
/// </summary>
/// <param name="WindowSize">Gradients the window holds, at least 1.</param>
/// <param name="Mean">1 to average the window, 0 to sum it.</param>
/// <param name="Lamb">Amplification of the average.</param>
/// <param name="Warmup">1 when nothing is added until the window is full.</param>
/// <param name="Trigger">The reference's ablation switch: with warmup, 1 means nothing is ever added.</param>
public readonly record struct WindowedMeanSettings(int WindowSize, int Mean, float Lamb, int Warmup, int Trigger) : IFilterSettings<WindowedMeanSettings, WindowedMeanConstants>
{
    /// <summary>The settings for the filter's hyperparameters.</summary>
    public static WindowedMeanSettings From(int windowSize, bool mean, double lamb, bool warmup, bool trigger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        return new(windowSize, mean ? 1 : 0, (float)lamb, warmup ? 1 : 0, trigger ? 1 : 0);
    }

    /// <summary>
    /// The constants of the step taken after <paramref name="stepsBefore"/> earlier ones, with the reference's rule: the
    /// gradient joins the window first, and the filter applies when <c>not warmup or (held == window_size and not trigger)</c>.
    /// </summary>
    public WindowedMeanConstants At(long stepsBefore)
    {
        long held = stepsBefore + 1 < WindowSize ? stepsBefore + 1 : WindowSize;
        bool apply = Warmup == 0 || (held == WindowSize && Trigger == 0);
        return new WindowedMeanConstants(stepsBefore % WindowSize, Mean != 0 ? 1.0 / held : 1.0, Lamb, apply ? 1 : 0);
    }

    static WindowedMeanConstants IFilterSettings<WindowedMeanSettings, WindowedMeanConstants>.At(WindowedMeanSettings settings, long stepsBefore, float covariance) =>
        settings.At(stepsBefore);

    static float IFilterSettings<WindowedMeanSettings, WindowedMeanConstants>.NextCovariance(WindowedMeanSettings settings, float covariance) => covariance;

    static int IFilterSettings<WindowedMeanSettings, WindowedMeanConstants>.Slots(WindowedMeanSettings settings) => settings.WindowSize;
}
