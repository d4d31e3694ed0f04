using Grokfast.Filters;
using Grokfast.Optim;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Support;

/// <summary>
/// A filter as the console app's verbs name it — ema, ma or kalman — with every hyperparameter they can set, each
/// defaulting to the filter's own: the one place in the app where a name becomes a filter.
/// </summary>
/// <param name="Kind">ema, ma or kalman.</param>
internal sealed record FilterChoice(string Kind)
{
    /// <summary>The names the verbs accept.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["ema", "ma", "kalman"];

    public double Alpha { get; init; } = EmaFilter.DefaultAlpha;

    /// <summary>Amplification; null means the filter's own default.</summary>
    public double? Lamb { get; init; }

    public int WindowSize { get; init; } = WindowedMeanFilter.DefaultWindowSize;

    public WindowAggregation FilterType { get; init; } = WindowAggregation.Mean;

    public bool Warmup { get; init; } = true;

    public bool Trigger { get; init; }

    public double ProcessNoise { get; init; } = KalmanFilter.DefaultProcessNoise;

    public double MeasurementNoise { get; init; } = KalmanFilter.DefaultMeasurementNoise;

    /// <summary>The amplification the filter runs with: the one given, else the filter's own default.</summary>
    public double LambOrDefault => Lamb ?? Kind switch
    {
        "ema" => EmaFilter.DefaultLamb,
        "ma" => WindowedMeanFilter.DefaultLamb,
        _ => KalmanFilter.DefaultLamb,
    };

    /// <summary>The filter for <paramref name="module"/>; bad hyperparameters throw the filter's own <see cref="ArgumentOutOfRangeException"/>.</summary>
    public GradientFilter Create(Module module) => Kind switch
    {
        "ema" => new EmaFilter(module, Alpha, LambOrDefault),
        "ma" => new WindowedMeanFilter(module, WindowSize, LambOrDefault, FilterType, Warmup, Trigger),
        "kalman" => new KalmanFilter(module, ProcessNoise, MeasurementNoise, LambOrDefault),
        _ => throw new InvalidOperationException($"Unknown filter '{Kind}': it must be {string.Join(", ", Kinds)}."),
    };

    /// <summary>The same filter to run inside a fused optimizer; bad hyperparameters throw the filter's own <see cref="ArgumentOutOfRangeException"/>.</summary>
    public GrokfastFilter Fused() => Kind switch
    {
        "ema" => GrokfastFilter.Ema(Alpha, LambOrDefault),
        "ma" => GrokfastFilter.WindowedMean(WindowSize, LambOrDefault, FilterType, Warmup, Trigger),
        "kalman" => GrokfastFilter.Kalman(ProcessNoise, MeasurementNoise, LambOrDefault),
        _ => throw new InvalidOperationException($"Unknown filter '{Kind}': it must be {string.Join(", ", Kinds)}."),
    };

    /// <summary>The hyperparameters that matter for this kind, by their Python names, for reports.</summary>
    public IReadOnlyDictionary<string, double> Hyperparameters => Kind switch
    {
        "ema" => new Dictionary<string, double> { ["alpha"] = Alpha, ["lamb"] = LambOrDefault },
        "ma" => new Dictionary<string, double> { ["window_size"] = WindowSize, ["lamb"] = LambOrDefault },
        "kalman" => new Dictionary<string, double>
        {
            ["process_noise"] = ProcessNoise, ["measurement_noise"] = MeasurementNoise, ["lamb"] = LambOrDefault,
        },
        _ => throw new InvalidOperationException($"Unknown filter '{Kind}': it must be {string.Join(", ", Kinds)}."),
    };
}
