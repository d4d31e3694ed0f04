using Grokfast.Filters;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Grokking;

/// <summary>One grokking run: which filter with which hyperparameters, the weight decay, the step budget.</summary>
/// <param name="Name">The run's label in tables, files and the plot.</param>
/// <param name="Filter">none, ema, ma or kalman.</param>
/// <param name="WeightDecay">Adam's L2 weight decay (added to the gradient, as torch's Adam does).</param>
/// <param name="Steps">Optimisation steps to run, rounded up to whole epochs.</param>
/// <param name="PaperStepsTo95">The paper's steps to 95 % validation accuracy for this setting, where it reports one.</param>
internal sealed record GrokRunSettings(string Name, string Filter, double WeightDecay, int Steps, int? PaperStepsTo95)
{
    public double Alpha { get; init; } = 0.98;
    public double EmaLamb { get; init; } = 2.0;
    public int WindowSize { get; init; } = 100;
    public double MaLamb { get; init; } = 5.0;
    public double ProcessNoise { get; init; } = KalmanFilter.DefaultProcessNoise;
    public double MeasurementNoise { get; init; } = KalmanFilter.DefaultMeasurementNoise;
    public double KalmanLamb { get; init; } = 2.0;

    /// <summary>The hyperparameters that matter for this run's filter, for the summary.</summary>
    public IReadOnlyDictionary<string, double> FilterHyperparameters => Filter switch
    {
        "ema" => new Dictionary<string, double> { ["alpha"] = Alpha, ["lamb"] = EmaLamb },
        "ma" => new Dictionary<string, double> { ["window_size"] = WindowSize, ["lamb"] = MaLamb },
        "kalman" => new Dictionary<string, double> { ["process_noise"] = ProcessNoise, ["measurement_noise"] = MeasurementNoise, ["lamb"] = KalmanLamb },
        _ => new Dictionary<string, double>(),
    };

    /// <summary>The fused filter for <paramref name="model"/>, or null for the baseline.</summary>
    public GradientFilter? CreateFilter(Module model) => Filter switch
    {
        "none" => null,
        "ema" => new EmaFilter(model, Alpha, EmaLamb),
        "ma" => new WindowedMeanFilter(model, WindowSize, MaLamb),
        "kalman" => new KalmanFilter(model, ProcessNoise, MeasurementNoise, KalmanLamb),
        _ => throw new InvalidOperationException($"Unknown filter '{Filter}': it must be none, ema, ma or kalman."),
    };
}
