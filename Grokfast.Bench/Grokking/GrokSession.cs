using Grokfast.Kernels.Distributed;
using static TorchSharp.torch;

namespace Grokfast.Bench.Grokking;

/// <summary>What one <c>grok</c> invocation runs: every selected run once per seed, and how.</summary>
/// <param name="Runs">The runs (filters and their settings).</param>
/// <param name="Seeds">The seeds; each sets the split, the initialisation and the batch order.</param>
/// <param name="Device">Where the model trains.</param>
/// <param name="Optimizer">The fused optimizer or the filter followed by TorchSharp's Adam.</param>
/// <param name="Dtype">The model's precision.</param>
/// <param name="StopAt">Validation accuracy at which a run stops early, or null to use the whole budget.</param>
/// <param name="OutputFolder">Where metrics.csv, summary.json and curves.png go.</param>
/// <param name="Modulus">The task's p (the paper's 97).</param>
/// <param name="Width">The model's width (the paper's 128).</param>
/// <param name="Ranks">Under mpirun, the ranks that train data parallel (each a slice of every batch); null for one process.</param>
/// <param name="Sharded">With <paramref name="Ranks"/>: the optimizer state sharded over them (ZeRO-1) rather than the gradients averaged whole.</param>
internal sealed record GrokSession(IReadOnlyList<GrokRunSettings> Runs, IReadOnlyList<int> Seeds, Device Device, GrokOptimizer Optimizer,
    ScalarType Dtype, double? StopAt, string OutputFolder, int Modulus = ModularMultiplication.PaperModulus, int Width = GrokkingTransformer.PaperWidth,
    ICommunicator? Ranks = null, bool Sharded = false);
