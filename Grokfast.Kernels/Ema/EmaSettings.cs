using Grokfast.Kernels.Engine;

namespace Grokfast.Kernels.Ema;

/// <summary>
/// The EMA filter's hyperparameters as every version computes with them, in float32: the host derives each step's
/// constants from them (<see cref="EmaConstants.For"/>), and so does the CUDA path's prepare kernel, on the device.
/// </summary>
/// <param name="Alpha">Momentum of the average, in [0, 1).</param>
/// <param name="OneMinusAlpha">1 − alpha, computed once in float32 from the double as the reference does.</param>
/// <param name="Lamb">Amplification of the slow component.</param>
public readonly record struct EmaSettings(float Alpha, float OneMinusAlpha, float Lamb) : IFilterSettings<EmaSettings, EmaConstants>
{
    /// <summary>The settings for <paramref name="alpha"/> and <paramref name="lamb"/>.</summary>
    public static EmaSettings From(double alpha, double lamb) => new((float)alpha, (float)(1.0 - alpha), (float)lamb);

    /// <summary>The constants of the step taken after <paramref name="stepsBefore"/> earlier ones: the first starts the average.</summary>
    public EmaConstants At(long stepsBefore) => new(Alpha, OneMinusAlpha, Lamb, stepsBefore == 0 ? 1 : 0);

    static EmaConstants IFilterSettings<EmaSettings, EmaConstants>.At(EmaSettings settings, long stepsBefore, float covariance) => settings.At(stepsBefore);

    static float IFilterSettings<EmaSettings, EmaConstants>.NextCovariance(EmaSettings settings, float covariance) => covariance;

    static int IFilterSettings<EmaSettings, EmaConstants>.Slots(EmaSettings settings) => 1;
}
