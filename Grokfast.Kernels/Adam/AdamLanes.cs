using System.Numerics;

namespace Grokfast.Kernels.Adam;

/// <summary>A step's <see cref="AdamConstants"/> broadcast to vector lanes once per range, for the twins' vector bodies.</summary>
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

    /// <summary>AdamW's decay is on (it multiplies the parameter first).</summary>
    public readonly bool Decoupled = c.DecayFactor != 1;

    /// <summary>Adam's L2 penalty is on (it joins the gradient).</summary>
    public readonly bool Coupled = c.WeightDecay != 0;
}
