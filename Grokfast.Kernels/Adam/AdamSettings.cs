namespace Grokfast.Kernels.Adam;

/// <summary>
/// Adam's or AdamW's hyperparameters, as <c>torch.optim</c> spells them, from which each step's
/// <see cref="AdamConstants"/> are derived in double, then rounded to float32 once — as TorchSharp's <c>Adam</c> and
/// <c>AdamW</c> compute their bias corrections and step size. The CPU path derives them on the host, the CUDA path in
/// its prepare kernel on the device, from the same code.
/// </summary>
/// <remarks>
/// The powers β^step are taken by repeated squaring, a fixed sequence of IEEE multiplications, so host and device agree
/// bit for bit; <c>Math.Pow</c> has no such guarantee across the two (and needs libdevice on CUDA). The result may
/// differ from <c>Math.Pow</c>'s in the last bits of the double, which the rounding to float32 absorbs but for rare ties.
/// </remarks>
/// <param name="Lr">Learning rate.</param>
/// <param name="Beta1">Decay of the first moment, in [0, 1).</param>
/// <param name="Beta2">Decay of the second moment, in [0, 1).</param>
/// <param name="Eps">Added to the denominator, ≥ 0.</param>
/// <param name="WeightDecay">L2 penalty (Adam) or decoupled decay (AdamW), ≥ 0.</param>
/// <param name="Decoupled">True for AdamW: the decay multiplies the parameter instead of joining the gradient.</param>
public readonly record struct AdamSettings(double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, bool Decoupled)
{
    // Kernel parameters must be blittable, which bool is not: the flag is stored as an int.
    private readonly int decoupled = Decoupled ? 1 : 0;

    /// <summary>True for AdamW.</summary>
    public bool Decoupled
    {
        get => decoupled != 0;
        init => decoupled = value ? 1 : 0;
    }

    /// <summary>
    /// The constants of step <paramref name="step"/> (1 for the first step; kernel code, so not checked here), the raw
    /// gradients to be multiplied by <paramref name="gradientScale"/> (fused clipping's factor).
    /// </summary>
    public AdamConstants At(long step, float gradientScale = 1)
    {
        double biasCorrection1 = 1 - Power(Beta1, step);
        double biasCorrection2 = 1 - Power(Beta2, step);
        return new AdamConstants(
            (float)Beta1, (float)(1 - Beta1), (float)Beta2, (float)(1 - Beta2),
            Decoupled ? 0f : (float)WeightDecay,
            Decoupled ? (float)(1 - Lr * WeightDecay) : 1f,
            (float)Math.Sqrt(biasCorrection2), (float)Eps, (float)(-(Lr / biasCorrection1)), gradientScale);
    }

    /// <summary><paramref name="value"/> to the power <paramref name="exponent"/> (≥ 0) by repeated squaring.</summary>
    internal static double Power(double value, long exponent)
    {
        double result = 1;
        for (double square = value; exponent > 0; exponent >>= 1)
        {
            if ((exponent & 1) != 0) result *= square;
            square *= square;
        }
        return result;
    }
}
