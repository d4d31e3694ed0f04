namespace Grokfast.Kernels.Kalman;

/// <summary>One step of the Kalman filter's shared covariance.</summary>
/// <param name="Constants">The step's gain and lamb.</param>
/// <param name="NextCovariance">P after the step.</param>
public readonly record struct KalmanStep(KalmanConstants Constants, float NextCovariance);
