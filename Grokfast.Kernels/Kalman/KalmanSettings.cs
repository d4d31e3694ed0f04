using Grokfast.Kernels.Engine;

namespace Grokfast.Kernels.Kalman;

/// <summary>
/// The Kalman filter's hyperparameters in float32, and one step of its covariance: the arithmetic every element of the
/// reference performs on its own copy of P, which is the same for all of them. The host runs it for the CPU twins
/// (<see cref="KalmanConstants.For"/>), the CUDA path's prepare kernel on the device; the same operations either way.
/// </summary>
/// <param name="ProcessNoise">Q.</param>
/// <param name="MeasurementNoise">R.</param>
/// <param name="Lamb">Amplification of the estimate.</param>
public readonly record struct KalmanSettings(float ProcessNoise, float MeasurementNoise, float Lamb) : IFilterSettings<KalmanSettings, KalmanConstants>
{
    /// <summary>The settings for the given noises and <paramref name="lamb"/>.</summary>
    public static KalmanSettings From(double processNoise, double measurementNoise, double lamb) =>
        new((float)processNoise, (float)measurementNoise, (float)lamb);

    /// <summary><c>P- = P + Q; K = P- / (P- + R); P = (1 - K) * P-</c> from the covariance <paramref name="covariance"/> before the step.</summary>
    public KalmanStep Next(float covariance)
    {
        float predicted = covariance + ProcessNoise;
        float gain = predicted / (predicted + MeasurementNoise);
        return new KalmanStep(new KalmanConstants(gain, Lamb), (1 - gain) * predicted);
    }

    static KalmanConstants IFilterSettings<KalmanSettings, KalmanConstants>.At(KalmanSettings settings, long stepsBefore, float covariance) =>
        settings.Next(covariance).Constants;

    static float IFilterSettings<KalmanSettings, KalmanConstants>.NextCovariance(KalmanSettings settings, float covariance) =>
        settings.Next(covariance).NextCovariance;

    static int IFilterSettings<KalmanSettings, KalmanConstants>.Slots(KalmanSettings settings) => 1;
}
