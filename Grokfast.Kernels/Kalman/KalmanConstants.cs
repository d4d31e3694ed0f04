namespace Grokfast.Kernels.Kalman;

/// <summary>The Kalman filter's per-step scalars: the gain, shared by every element, and lamb.</summary>
/// <param name="Gain">Kalman gain K of this step.</param>
/// <param name="Lamb">Amplification of the estimate.</param>
public readonly record struct KalmanConstants(float Gain, float Lamb)
{
    /// <summary>
    /// One step of the error covariance, computed on the host in float32 — the arithmetic every element
    /// of the reference performs on its own copy of P, which is the same for all of them:
    /// <c>P- = P + Q; K = P- / (P- + R); P = (1 - K) * P-</c>.
    /// </summary>
    /// <param name="covariance">P before the step (R before the first step).</param>
    /// <param name="processNoise">Q.</param>
    /// <param name="measurementNoise">R.</param>
    /// <param name="lamb">Amplification of the estimate.</param>
    /// <param name="nextCovariance">P after the step.</param>
    public static KalmanConstants For(float covariance, float processNoise, float measurementNoise, double lamb, out float nextCovariance)
    {
        float predicted = covariance + processNoise;
        float gain = predicted / (predicted + measurementNoise);
        nextCovariance = (1 - gain) * predicted;
        return new KalmanConstants(gain, (float)lamb);
    }
}
