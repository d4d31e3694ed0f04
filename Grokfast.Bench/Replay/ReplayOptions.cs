using Grokfast.Filters;

namespace Grokfast.Bench.Replay;

/// <summary>Which filter the replay runs and its hyperparameters, with the references' defaults.</summary>
internal sealed record ReplayOptions(
    string Filter,
    double Alpha = 0.99,
    double? Lamb = null,
    int WindowSize = 128,
    WindowAggregation FilterType = WindowAggregation.Mean,
    bool Warmup = true,
    bool Trigger = false,
    double ProcessNoise = 1e-4,
    double MeasurementNoise = 1e-2);
