namespace Grokfast.Tests.Support;

/// <summary>The pull request's Kalman filter as a plain loop, with a covariance P per element as it keeps them.</summary>
internal sealed class ScalarKalman
{
    private readonly float[] x;
    private readonly float[] p;
    private readonly float q;
    private readonly float r;
    private readonly float lamb;

    public ScalarKalman(int length, float processNoise, float measurementNoise, float lamb)
    {
        x = new float[length];
        p = Enumerable.Repeat(measurementNoise, length).ToArray();
        q = processNoise;
        r = measurementNoise;
        this.lamb = lamb;
    }

    public void Step(float[] gradient)
    {
        for (int i = 0; i < gradient.Length; i++)
        {
            float predicted = p[i] + q;
            float gain = predicted / (predicted + r);
            x[i] += gain * (gradient[i] - x[i]);
            p[i] = (1 - gain) * predicted;
            gradient[i] += x[i] * lamb;
        }
    }
}
