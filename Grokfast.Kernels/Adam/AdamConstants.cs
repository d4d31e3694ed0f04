namespace Grokfast.Kernels.Adam;

/// <summary>
/// One Adam or AdamW step's scalars in float32, computed once on the host (<see cref="AdamSettings.At"/>) and shared by
/// every element.
/// </summary>
/// <param name="Beta1">Decay of the first moment.</param>
/// <param name="OneMinusBeta1">1 − beta1.</param>
/// <param name="Beta2">Decay of the second moment.</param>
/// <param name="OneMinusBeta2">1 − beta2.</param>
/// <param name="WeightDecay">Adam's L2 penalty, added to the gradient (0 for AdamW, whose decay is <paramref name="DecayFactor"/>).</param>
/// <param name="DecayFactor">AdamW's decoupled decay, 1 − lr·weight_decay, which multiplies the parameter first (1 for Adam).</param>
/// <param name="BiasCorrection2Sqrt">√(1 − beta2^step).</param>
/// <param name="Eps">Added to the denominator.</param>
/// <param name="NegativeStepSize">−lr / (1 − beta1^step).</param>
/// <param name="GradientScale">What the raw gradient is multiplied by before the filter and Adam: fused clipping's factor, 1 without.</param>
public readonly record struct AdamConstants(float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2, float WeightDecay,
    float DecayFactor, float BiasCorrection2Sqrt, float Eps, float NegativeStepSize, float GradientScale);
