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
    private readonly Func<FilterTarget, KernelBackend, bool, GradientFilter> create;

    private GrokfastFilter(string description, double lamb, Func<FilterTarget, KernelBackend, bool, GradientFilter> create)
    {
        this.description = description;
        this.lamb = lamb;
        this.create = create;
    }

    /// <summary>The amplification, which a parameter group's own <c>lamb</c> replaces for its parameters.</summary>
    public double lamb { get; }

    /// <summary>The EMA filter (see <see cref="EmaFilter(Module, double, double, KernelBackend, bool)"/>).</summary>
    public static GrokfastFilter Ema(double alpha = EmaFilter.DefaultAlpha, double lamb = EmaFilter.DefaultLamb)
    {
        EmaFilter.Validate(alpha, lamb);
        return new($"ema(alpha={alpha}, lamb={lamb})", lamb, (target, backend, skip) => new EmaFilter(target, alpha, lamb, backend, skip));
    }

    /// <summary>The windowed mean (see <see cref="WindowedMeanFilter(Module, int, double, WindowAggregation, bool, bool, KernelBackend, bool)"/>).</summary>
    public static GrokfastFilter WindowedMean(int window_size = WindowedMeanFilter.DefaultWindowSize, double lamb = WindowedMeanFilter.DefaultLamb,
        WindowAggregation filter_type = WindowAggregation.Mean, bool warmup = true, bool trigger = false)
    {
        WindowedMeanFilter.Validate(window_size, lamb, filter_type);
        return new($"ma(window_size={window_size}, lamb={lamb}, filter_type={filter_type}, warmup={warmup}, trigger={trigger})", lamb,
            (target, backend, skip) => new WindowedMeanFilter(target, window_size, lamb, filter_type, warmup, trigger, backend, skip));
    }

    /// <summary>The Kalman filter (see <see cref="KalmanFilter(Module, double, double, double, KernelBackend, bool)"/>).</summary>
    public static GrokfastFilter Kalman(double process_noise = KalmanFilter.DefaultProcessNoise, double measurement_noise = KalmanFilter.DefaultMeasurementNoise,
        double lamb = KalmanFilter.DefaultLamb)
    {
        KalmanFilter.Validate(process_noise, measurement_noise, lamb);
        return new($"kalman(process_noise={process_noise}, measurement_noise={measurement_noise}, lamb={lamb})", lamb,
            (target, backend, skip) => new KalmanFilter(target, process_noise, measurement_noise, lamb, backend, skip));
    }

    /// <summary>Builds the filter on a fused optimizer's steps; the optimizer owns it.</summary>
    internal GradientFilter Create(GradientSteps steps) => create(FilterTarget.Shared(steps), steps.Backend, steps.SkipNonFinite);

    /// <inheritdoc />
    public override string ToString() => description;
}
