namespace Grokfast.Kernels.Ema;

/// <summary>
/// The EMA filter's per-step scalars, computed once on the host and passed by value to every thread.
/// </summary>
/// <param name="Alpha">Momentum of the average, in [0, 1).</param>
/// <param name="OneMinusAlpha">1 − alpha, computed once in float32 as the reference does.</param>
/// <param name="Lamb">Amplification of the slow component.</param>
/// <param name="Initialize">1 on the first step: the average starts at the first gradient; 0 after.</param>
public readonly record struct EmaConstants(float Alpha, float OneMinusAlpha, float Lamb, int Initialize)
{
    /// <summary>The constants for one step.</summary>
    public static EmaConstants For(double alpha, double lamb, bool firstStep) => EmaSettings.From(alpha, lamb).At(firstStep ? 0 : 1);
}
