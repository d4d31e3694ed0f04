namespace Grokfast.Kernels.Adam;

/// <summary>
/// Adam's or AdamW's hyperparameters, as <c>torch.optim</c> spells them, from which each step's
/// <see cref="AdamConstants"/> are derived on the host, in double, then rounded to float32 once — as TorchSharp's
/// <c>Adam</c> and <c>AdamW</c> compute their bias corrections and step size.
/// </summary>
/// <param name="Lr">Learning rate.</param>
/// <param name="Beta1">Decay of the first moment, in [0, 1).</param>
/// <param name="Beta2">Decay of the second moment, in [0, 1).</param>
/// <param name="Eps">Added to the denominator, ≥ 0.</param>
/// <param name="WeightDecay">L2 penalty (Adam) or decoupled decay (AdamW), ≥ 0.</param>
/// <param name="Decoupled">True for AdamW: the decay multiplies the parameter instead of joining the gradient.</param>
internal readonly record struct AdamSettings(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, bool Decoupled)
{
    /// <summary>The constants of step <paramref name="step"/> (1 for the first step).</summary>
    public AdamConstants At(long step)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        double biasCorrection1 = 1 - Math.Pow(Beta1, step);
        double biasCorrection2 = 1 - Math.Pow(Beta2, step);
        return new AdamConstants(
            (float)Beta1, (float)(1 - Beta1), (float)Beta2, (float)(1 - Beta2),
            Decoupled ? 0f : (float)WeightDecay,
            Decoupled ? (float)(1 - Lr * WeightDecay) : 1f,
            (float)Math.Sqrt(biasCorrection2), (float)Eps, (float)(-(Lr / biasCorrection1)));
    }
}
