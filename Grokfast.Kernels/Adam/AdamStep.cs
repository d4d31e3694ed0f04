// Adam / AdamW, one element or one vector of lanes, following TorchSharp 0.107's Adam/AdamW operation by operation,
// each rounded on its own:
//   AdamW: p = p * (1 - lr*wd);  Adam: g = g + wd*p
//   m = m*beta1 + (1-beta1)*g;  v = v*beta2 + ((1-beta2)*g)*g
//   p = p + (-step_size * m) / (sqrt(v) / sqrt(bias_correction2) + eps)
// IEEE square root and division on every backend, no fused multiply-add.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Adam;

/// <summary>Adam's and AdamW's element math, written once: the passes' scalar loops call <see cref="Element"/>, their vector bodies <see cref="Lanes"/>.</summary>
internal static class AdamStep
{
    /// <summary>One element's step: the new parameter and moments.</summary>
    /// <param name="g">The gradient (already filtered, when a Grokfast filter runs first).</param>
    /// <param name="p">The parameter.</param>
    /// <param name="m">The first moment.</param>
    /// <param name="v">The second moment.</param>
    /// <param name="c">The step's constants.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static AdamElement Element(float g, float p, float m, float v, AdamConstants c)
    {
        // Uniform branches: with the decay off, nothing at all is computed for it (0·p would turn an infinite p into NaN).
        if (c.DecayFactor != 1) p *= c.DecayFactor;
        if (c.WeightDecay != 0) g += c.WeightDecay * p;
        float nextM = m * c.Beta1 + c.OneMinusBeta1 * g;
        float nextV = v * c.Beta2 + c.OneMinusBeta2 * g * g;
        float denominator = MathF.Sqrt(nextV) / c.BiasCorrection2Sqrt + c.Eps;
        return new AdamElement(p + c.NegativeStepSize * nextM / denominator, nextM, nextV);
    }

    /// <summary>
    /// <see cref="Element"/> on one vector of lanes (the moments updated in place): the same operations in the same order,
    /// with the constants broadcast once per range (<see cref="AdamLanes"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Lanes(Vector<float> g, Vector<float> p, ref Vector<float> m, ref Vector<float> v, in AdamLanes c)
    {
        if (c.Decoupled) p *= c.DecayFactor;
        if (c.Coupled) g += c.WeightDecay * p;
        m = m * c.Beta1 + c.OneMinusBeta1 * g;
        v = v * c.Beta2 + c.OneMinusBeta2 * g * g;
        Vector<float> denominator = Vector.SquareRoot(v) / c.BiasCorrection2Sqrt + c.Eps;
        return p + c.NegativeStepSize * m / denominator;
    }
}

/// <summary>One parameter element after an Adam step.</summary>
/// <param name="Parameter">The updated parameter.</param>
/// <param name="FirstMoment">m after the step.</param>
/// <param name="SecondMoment">v after the step.</param>
internal readonly record struct AdamElement(float Parameter, float FirstMoment, float SecondMoment);

/// <summary>A step's <see cref="AdamConstants"/> broadcast to vector lanes once per range, for the CPU twin's vector body.</summary>
internal readonly struct AdamLanes(AdamConstants c)
{
    public readonly Vector<float> DecayFactor = new(c.DecayFactor);
    public readonly Vector<float> WeightDecay = new(c.WeightDecay);
    public readonly Vector<float> Beta1 = new(c.Beta1);
    public readonly Vector<float> OneMinusBeta1 = new(c.OneMinusBeta1);
    public readonly Vector<float> Beta2 = new(c.Beta2);
    public readonly Vector<float> OneMinusBeta2 = new(c.OneMinusBeta2);
    public readonly Vector<float> BiasCorrection2Sqrt = new(c.BiasCorrection2Sqrt);
    public readonly Vector<float> Eps = new(c.Eps);
    public readonly Vector<float> NegativeStepSize = new(c.NegativeStepSize);
    public readonly Vector<float> GradientScale = new(c.GradientScale);

    /// <summary>The raw gradients are scaled (fused clipping cut them); a factor of 1 is skipped, so unclipped gradients stay bit for bit.</summary>
    public readonly bool Scales = c.GradientScale != 1;

    /// <summary>AdamW's decay is on (it multiplies the parameter first).</summary>
    public readonly bool Decoupled = c.DecayFactor != 1;

    /// <summary>Adam's L2 penalty is on (it joins the gradient).</summary>
    public readonly bool Coupled = c.WeightDecay != 0;
}
