namespace Grokfast.Kernels.Kalman;

/// <summary>The Kalman filter's per-step scalars: the gain, shared by every element, and lamb.</summary>
/// <param name="Gain">Kalman gain K of this step.</param>
/// <param name="Lamb">Amplification of the estimate.</param>
public readonly record struct KalmanConstants(float Gain, float Lamb)
{
    /// <summary>The constants of one step from the covariance before it (see <see cref="KalmanSettings.Next"/>).</summary>
    /// <param name="covariance">P before the step (R before the first step).</param>
    /// <param name="processNoise">Q.</param>
    /// <param name="measurementNoise">R.</param>
    /// <param name="lamb">Amplification of the estimate.</param>
    /// <param name="nextCovariance">P after the step.</param>
    public static KalmanConstants For(float covariance, float processNoise, float measurementNoise, double lamb, out float nextCovariance)
    {
        KalmanStep step = new KalmanSettings(processNoise, measurementNoise, (float)lamb).Next(covariance);
        nextCovariance = step.NextCovariance;
        return step.Constants;
    }
}
