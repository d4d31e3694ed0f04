namespace Grokfast.Tests.Support;

/// <summary>The pull request's Kalman filter as a plain loop, with a covariance P per element as it keeps them.</summary>
internal sealed class ScalarKalman : IScalarFilter
{
    private readonly float[] p;
    private readonly float q;
    private readonly float r;
    private readonly float lamb;

    public ScalarKalman(int length, float processNoise, float measurementNoise, float lamb)
    {
        State = new float[length];
        p = Enumerable.Repeat(measurementNoise, length).ToArray();
        q = processNoise;
        r = measurementNoise;
        this.lamb = lamb;
    }

    /// <summary>The estimates x.</summary>
    public float[] State { get; }

    public void Step(float[] gradient)
    {
        for (int i = 0; i < gradient.Length; i++)
        {
            float predicted = p[i] + q;
            float gain = predicted / (predicted + r);
            State[i] += gain * (gradient[i] - State[i]);
            p[i] = (1 - gain) * predicted;
            gradient[i] += State[i] * lamb;
        }
    }
}
