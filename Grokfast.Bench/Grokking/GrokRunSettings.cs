using Grokfast.Bench.Support;

namespace Grokfast.Bench.Grokking;

/// <summary>One grokking run: which filter with which hyperparameters, the weight decay, the step budget.</summary>
/// <param name="Name">The run's label in tables, files and the plot.</param>
/// <param name="Filter">The filter and its hyperparameters; null for the baseline without one.</param>
/// <param name="WeightDecay">Adam's L2 weight decay (added to the gradient, as torch's Adam does).</param>
/// <param name="Steps">Optimisation steps to run, rounded up to whole epochs.</param>
/// <param name="PaperStepsTo95">The paper's steps to 95 % validation accuracy for this setting, where it reports one.</param>
internal sealed record GrokRunSettings(string Name, FilterChoice? Filter, double WeightDecay, int Steps, int? PaperStepsTo95)
{
    /// <summary>The filter's name as the --filter option and the summary spell it: none for the baseline.</summary>
    public string FilterKind => Filter?.Kind ?? "none";
}
