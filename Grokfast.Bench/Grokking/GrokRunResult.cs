namespace Grokfast.Bench.Grokking;

/// <summary>What one run achieved, for the summary table and summary.json.</summary>
internal sealed record GrokRunResult(
    GrokRunSettings Settings,
    int StepsRun,
    int? StepsTo95Valid,
    int? StepsTo99Train,
    double FinalTrainAccuracy,
    double FinalValidAccuracy,
    double WallSeconds,
    double FilterShare,
    double MeanStepMilliseconds,
    IReadOnlyList<GrokEvaluation> Evaluations);
