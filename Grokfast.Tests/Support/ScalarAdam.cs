namespace Grokfast.Tests.Support;

/// <summary>
/// TorchSharp 0.107's Adam and AdamW written as a plain loop, one operation at a time in its order, each rounded to
/// float32: the oracle the fused kernels are checked against, bit for bit.
/// </summary>
internal sealed class ScalarAdam(float[] parameters, double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
{
    private readonly float[] m = new float[parameters.Length];
    private readonly float[] v = new float[parameters.Length];
    private long step;

    public float[] Parameters => parameters;

    public float[] FirstMoments => m;

    public float[] SecondMoments => v;

    public void Step(float[] gradient)
    {
        step++;
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        float stepSize = (float)(-(lr / biasCorrection1));
        float correction = (float)Math.Sqrt(biasCorrection2);
        for (int i = 0; i < parameters.Length; i++)
        {
            float g = gradient[i];
            if (decoupled && weightDecay != 0) parameters[i] *= (float)(1 - lr * weightDecay);
            if (!decoupled && weightDecay != 0) g += (float)weightDecay * parameters[i];
            m[i] = m[i] * (float)beta1 + (float)(1 - beta1) * g;
            v[i] = v[i] * (float)beta2 + (float)(1 - beta2) * g * g;
            float denominator = MathF.Sqrt(v[i]) / correction + (float)eps;
            parameters[i] += stepSize * m[i] / denominator;
        }
    }
}
