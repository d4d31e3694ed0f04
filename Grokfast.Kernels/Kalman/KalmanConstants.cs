// Scalar-gain Kalman: x += K*(g - x); g += lamb*x, with the gain K shared by every element (KalmanSettings.Next) and x
// starting at zero. State: the estimate x, one float32 per element.
using Grokfast.Kernels.Engine;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Kalman;

/// <summary>The Kalman filter's per-step scalars: the gain, shared by every element, and lamb.</summary>
/// <param name="Gain">Kalman gain K of this step.</param>
/// <param name="Lamb">Amplification of the estimate.</param>
public readonly record struct KalmanConstants(float Gain, float Lamb) : IFilterStep<KalmanConstants>
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

    static bool IFilterStep<KalmanConstants>.KeepsEstimate => true;

    static bool IFilterStep<KalmanConstants>.KeepsSum => false;

    static bool IFilterStep<KalmanConstants>.ReadsEstimate(KalmanConstants constants) => true;

    static bool IFilterStep<KalmanConstants>.ChangesGradient(KalmanConstants constants) => true;

    static long IFilterStep<KalmanConstants>.EstimateOffset(KalmanConstants constants, long stride) => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static FilteredElement IFilterStep<KalmanConstants>.Element(KalmanConstants c, float g, float estimate, double sum)
    {
        float next = estimate + c.Gain * (g - estimate);
        return new FilteredElement(g + c.Lamb * next, next, 0);
    }

    static FilterLanes IFilterStep<KalmanConstants>.Broadcast(KalmanConstants c) => new(new(c.Gain), new(c.Lamb), default, default);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector<float> IFilterStep<KalmanConstants>.Lanes(KalmanConstants c, in FilterLanes lanes, Vector<float> g, ref Vector<float> estimate, ref Vector<double> sumLow, ref Vector<double> sumHigh)
    {
        (Vector<float> gain, Vector<float> lamb) = (lanes.First, lanes.Second);
        estimate += gain * (g - estimate);
        return g + lamb * estimate;
    }
}
