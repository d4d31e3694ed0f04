// The Kalman filter on float64 gradients with float64 estimates and a float64 covariance per parameter, all in double:
// P- = P + Q; K = P- / (P- + R); x += K*(g - x); P = (1 - K)*P-; g += lamb*x.
// Bytes per element: 32 (read g and x, write both). The CPU twin only: float64 has no GPU path.
using Grokfast.Kernels.Backends;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Float64;

/// <summary>The Kalman filter's per-step scalars for float64 gradients: the gain and lamb, in double.</summary>
internal readonly record struct KalmanFloat64Constants(double Gain, double Lamb)
{
    /// <summary>The constants of a step from the covariance <paramref name="covariance"/> before it, and the covariance after it.</summary>
    public static (KalmanFloat64Constants Constants, double NextCovariance) Next(double covariance, double processNoise, double measurementNoise, double lamb)
    {
        double predicted = covariance + processNoise;
        double gain = predicted / (predicted + measurementNoise);
        return (new KalmanFloat64Constants(gain, lamb), (1 - gain) * predicted);
    }
}

/// <summary>The Kalman filter on float64 gradients: its vectorised CPU twin.</summary>
internal static unsafe class KalmanFloat64Kernels
{
    /// <summary>Bytes one step moves per gradient element.</summary>
    public const int BytesPerElement = 32;

    /// <summary>The twin run over the cores.</summary>
    public static IFloat64Kernel<KalmanFloat64Constants> CreateCpu() => new Float64CpuRunner<double, double, KalmanFloat64Constants>(&FilterRange);

    /// <summary>One element's step; the vector body performs the same operations in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (double Gradient, double State) Element(double g, double estimate, KalmanFloat64Constants c)
    {
        double next = estimate + c.Gain * (g - estimate);
        return (g + c.Lamb * next, next);
    }

    /// <summary>The pass over <paramref name="count"/> contiguous elements.</summary>
    internal static void FilterRange(double* g, double* x, long count, KalmanFloat64Constants c)
    {
        var gain = new Vector<double>(c.Gain);
        var lamb = new Vector<double>(c.Lamb);
        long i = 0;
        for (; i <= count - Vector<double>.Count; i += Vector<double>.Count)
        {
            Vector<double> gi = Vector.Load(g + i);
            Vector<double> estimate = Vector.Load(x + i);
            estimate += gain * (gi - estimate);
            Vector.Store(estimate, x + i);
            Vector.Store(gi + lamb * estimate, g + i);
        }
        for (; i < count; i++)
        {
            (double gradient, double state) = Element(g[i], x[i], c);
            x[i] = state;
            g[i] = gradient;
        }
    }
}
