// The three filters' float64 steps, each the reference's operations on float64 tensors in its order:
//   EMA:    ema = alpha*ema + (1-alpha)*g; g += lamb*ema               (the average starts at the first gradient)
//   Kalman: x += K*(g - x); g += lamb*x                                 (K from a double covariance per parameter)
//   MA:     sum += g - slot; slot = g; when it applies, g += lamb*(sum*scale)
using Grokfast.Kernels.WindowedMean;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Float64;

/// <summary>The EMA filter's per-step scalars for float64 gradients, in double.</summary>
/// <param name="Alpha">Momentum of the average.</param>
/// <param name="OneMinusAlpha">1 − alpha, in double.</param>
/// <param name="Lamb">Amplification.</param>
/// <param name="Initialize">1 on the first step: the average starts at the first gradient.</param>
internal readonly record struct EmaFloat64Constants(double Alpha, double OneMinusAlpha, double Lamb, int Initialize) : IFloat64Step<EmaFloat64Constants>
{
    /// <summary>The constants of the step taken after <paramref name="stepsBefore"/> earlier ones.</summary>
    public static EmaFloat64Constants At(double alpha, double lamb, long stepsBefore) => new(alpha, 1.0 - alpha, lamb, stepsBefore == 0 ? 1 : 0);

    public static bool KeepsSum => false;

    public static bool ReadsEstimate(EmaFloat64Constants constants) => constants.Initialize == 0;

    public static bool ChangesGradient(EmaFloat64Constants constants) => true;

    public static long EstimateOffset(EmaFloat64Constants constants, long stride) => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Element(EmaFloat64Constants c, double g, ref double estimate, ref double sum)
    {
        estimate = c.Alpha * (c.Initialize != 0 ? g : estimate) + c.OneMinusAlpha * g;
        return g + c.Lamb * estimate;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Lanes(EmaFloat64Constants c, Vector<double> g, ref Vector<double> estimate, ref Vector<double> sum)
    {
        estimate = new Vector<double>(c.Alpha) * (c.Initialize != 0 ? g : estimate) + new Vector<double>(c.OneMinusAlpha) * g;
        return g + new Vector<double>(c.Lamb) * estimate;
    }
}

/// <summary>The Kalman filter's per-step scalars for float64 gradients: the gain and lamb, in double.</summary>
internal readonly record struct KalmanFloat64Constants(double Gain, double Lamb) : IFloat64Step<KalmanFloat64Constants>
{
    /// <summary>The constants of a step from the covariance <paramref name="covariance"/> before it, and the covariance after it.</summary>
    public static (KalmanFloat64Constants Constants, double NextCovariance) Next(double covariance, double processNoise, double measurementNoise, double lamb)
    {
        double predicted = covariance + processNoise;
        double gain = predicted / (predicted + measurementNoise);
        return (new KalmanFloat64Constants(gain, lamb), (1 - gain) * predicted);
    }

    public static bool KeepsSum => false;

    public static bool ReadsEstimate(KalmanFloat64Constants constants) => true;

    public static bool ChangesGradient(KalmanFloat64Constants constants) => true;

    public static long EstimateOffset(KalmanFloat64Constants constants, long stride) => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Element(KalmanFloat64Constants c, double g, ref double estimate, ref double sum)
    {
        estimate += c.Gain * (g - estimate);
        return g + c.Lamb * estimate;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Lanes(KalmanFloat64Constants c, Vector<double> g, ref Vector<double> estimate, ref Vector<double> sum)
    {
        estimate += new Vector<double>(c.Gain) * (g - estimate);
        return g + new Vector<double>(c.Lamb) * estimate;
    }
}

/// <summary>
/// The windowed mean's per-step scalars for float64 gradients: the step's slot, scale and whether it applies, as for
/// float32 gradients, with lamb in double (the float32 constants carry it in float32).
/// </summary>
internal readonly record struct WindowedMeanFloat64Constants(long Slot, double Scale, double Lamb, int Apply) : IFloat64Step<WindowedMeanFloat64Constants>
{
    /// <summary>The float64 constants of the step <paramref name="step"/> describes, with <paramref name="lamb"/>.</summary>
    public static WindowedMeanFloat64Constants From(WindowedMeanConstants step, double lamb) => new(step.Slot, step.Scale, lamb, step.Apply);

    public static bool KeepsSum => true;

    public static bool ReadsEstimate(WindowedMeanFloat64Constants constants) => true;

    public static bool ChangesGradient(WindowedMeanFloat64Constants constants) => constants.Apply != 0;

    public static long EstimateOffset(WindowedMeanFloat64Constants constants, long stride) => constants.Slot * stride;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Element(WindowedMeanFloat64Constants c, double g, ref double oldest, ref double sum)
    {
        sum = sum - oldest + g;
        oldest = g;
        return g + c.Lamb * (sum * c.Scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Lanes(WindowedMeanFloat64Constants c, Vector<double> g, ref Vector<double> oldest, ref Vector<double> sum)
    {
        sum = sum - oldest + g;
        oldest = g;
        return g + new Vector<double>(c.Lamb) * (sum * new Vector<double>(c.Scale));
    }
}
