using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using static TorchSharp.torch.nn;

namespace Grokfast.Optim;

/// <summary>
/// Which Grokfast filter a fused optimizer runs inside its step, with the same hyperparameters, defaults and semantics
/// as the filter classes (<see cref="EmaFilter"/>, <see cref="WindowedMeanFilter"/>, <see cref="KalmanFilter"/>).
/// Hyperparameters are checked here, when the choice is made.
/// </summary>
public sealed class GrokfastFilter
{
    private readonly string description;
    private readonly Func<Module, KernelBackend, bool, GradientFilter> create;

    private GrokfastFilter(string description, Func<Module, KernelBackend, bool, GradientFilter> create)
    {
        this.description = description;
        this.create = create;
    }

    /// <summary>The EMA filter (see <see cref="EmaFilter(Module, double, double, KernelBackend, bool)"/>).</summary>
    public static GrokfastFilter Ema(double alpha = EmaFilter.DefaultAlpha, double lamb = EmaFilter.DefaultLamb)
    {
        EmaFilter.Validate(alpha, lamb);
        return new($"ema(alpha={alpha}, lamb={lamb})", (module, backend, skip) => new EmaFilter(module, alpha, lamb, backend, skip));
    }

    /// <summary>The windowed mean (see <see cref="WindowedMeanFilter(Module, int, double, WindowAggregation, bool, bool, KernelBackend, bool)"/>).</summary>
    public static GrokfastFilter WindowedMean(int window_size = WindowedMeanFilter.DefaultWindowSize, double lamb = WindowedMeanFilter.DefaultLamb,
        WindowAggregation filter_type = WindowAggregation.Mean, bool warmup = true, bool trigger = false)
    {
        WindowedMeanFilter.Validate(window_size, lamb, filter_type);
        return new($"ma(window_size={window_size}, lamb={lamb}, filter_type={filter_type}, warmup={warmup}, trigger={trigger})",
            (module, backend, skip) => new WindowedMeanFilter(module, window_size, lamb, filter_type, warmup, trigger, backend, skip));
    }

    /// <summary>The Kalman filter (see <see cref="KalmanFilter(Module, double, double, double, KernelBackend, bool)"/>).</summary>
    public static GrokfastFilter Kalman(double process_noise = KalmanFilter.DefaultProcessNoise, double measurement_noise = KalmanFilter.DefaultMeasurementNoise,
        double lamb = KalmanFilter.DefaultLamb)
    {
        KalmanFilter.Validate(process_noise, measurement_noise, lamb);
        return new($"kalman(process_noise={process_noise}, measurement_noise={measurement_noise}, lamb={lamb})",
            (module, backend, skip) => new KalmanFilter(module, process_noise, measurement_noise, lamb, backend, skip));
    }

    /// <summary>Builds the filter for <paramref name="module"/>; the optimizer owns it.</summary>
    internal GradientFilter Create(Module module, KernelBackend backend, bool skipNonFinite) => create(module, backend, skipNonFinite);

    /// <inheritdoc />
    public override string ToString() => description;
}
