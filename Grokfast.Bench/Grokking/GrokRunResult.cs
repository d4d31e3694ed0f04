using static TorchSharp.torch;

namespace Grokfast.Bench.Grokking;

/// <summary>
/// What one run achieved, for the summary table and summary.json. <c>OptimizerShare</c> is the share of the step time
/// spent filtering and updating: the fused step, or the filter's <c>step()</c> plus Adam's.
/// </summary>
internal sealed record GrokRunResult(
    GrokRunSettings Settings,
    int Seed,
    bool StoppedEarly,
    int StepsRun,
    int? StepsTo95Valid,
    int? StepsTo99Train,
    double FinalTrainAccuracy,
    double FinalValidAccuracy,
    double WallSeconds,
    GrokOptimizer Optimizer,
    ScalarType Dtype,
    double OptimizerShare,
    double MeanStepMilliseconds,
    double MeanOptimizerMilliseconds,
    IReadOnlyList<GrokEvaluation> Evaluations);
