namespace Grokfast.Checkpoints;

/// <summary>Everything in a checkpoint before its buffers.</summary>
/// <param name="Version">The format version it was written in.</param>
/// <param name="Kind">ema, ma, kalman; adam+ema, adamw+none, … for the fused optimizers.</param>
/// <param name="Hyperparameters">By their Python names.</param>
/// <param name="StepCount">Steps taken.</param>
/// <param name="Parameters">The parameters, in the flat buffer's order.</param>
internal sealed record CheckpointHeader(int Version, string Kind, IReadOnlyDictionary<string, double> Hyperparameters, long StepCount,
    IReadOnlyList<ParameterRecord> Parameters);
