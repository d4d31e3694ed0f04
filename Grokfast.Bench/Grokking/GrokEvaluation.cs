namespace Grokfast.Bench.Grokking;

/// <summary>One row of metrics.csv: the state of a run after an epoch.</summary>
/// <param name="Run">The run's name.</param>
/// <param name="Step">Optimisation steps taken so far.</param>
/// <param name="Epoch">Epochs completed.</param>
/// <param name="TrainLoss">Mean loss over the epoch's training batches (as the paper's code measures it, while training).</param>
/// <param name="TrainAccuracy">Accuracy over the epoch's training batches.</param>
/// <param name="ValidLoss">Loss on the whole validation set after the epoch.</param>
/// <param name="ValidAccuracy">Accuracy on the whole validation set after the epoch.</param>
/// <param name="ElapsedSeconds">Wall time since the run started.</param>
internal sealed record GrokEvaluation(string Run, int Step, int Epoch, double TrainLoss, double TrainAccuracy, double ValidLoss, double ValidAccuracy, double ElapsedSeconds);
