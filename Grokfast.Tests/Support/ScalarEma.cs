namespace Grokfast.Tests.Support;

/// <summary>The EMA filter as a plain scalar loop: the oracle the kernels are checked against.</summary>
internal sealed class ScalarEma(int length, float alpha, float lamb) : IScalarFilter
{
    private bool started;

    public float[] State { get; } = new float[length];

    public void Step(float[] gradient)
    {
        float oneMinusAlpha = (float)(1.0 - alpha);
        for (int i = 0; i < gradient.Length; i++)
        {
            float e = started ? State[i] : gradient[i];
            e = e * alpha + gradient[i] * oneMinusAlpha;
            State[i] = e;
            gradient[i] += e * lamb;
        }
        started = true;
    }
}
