using Grokfast.Bench.Support;
using Grokfast.Filters;
using Grokfast.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bench.Throughput;

/// <summary>
/// Times the fused optimizer (the filter, if any, and Adam in one pass) against the separate path — the filter's
/// <c>step()</c>, then TorchSharp's <c>Adam.step()</c> — on the same synthetic parameters, and a read-modify-write
/// pass over the fused step's bytes, side by side.
/// </summary>
internal static class OptimizerMeasurement
{
    private const int Runs = 15;

    /// <summary>The filters measured: none (Adam alone) and each of <see cref="FilterVersions.All"/>.</summary>
    public static IReadOnlyList<string> Filters { get; } = ["none", .. FilterVersions.All.Select(f => f.Name)];

    public static OptimizerThroughput Measure(string filter, long elements, int tensors, ScalarType dtype)
    {
        FilterVersions? versions = FilterVersions.All.SingleOrDefault(f => f.Name == filter);
        using var fusedModel = new SyntheticModel(elements, tensors, dtype: dtype);
        using var separateModel = new SyntheticModel(elements, tensors, dtype: dtype);
        Tensor[] pristine = fusedModel.SnapshotGradients();
        try
        {
            using var fused = new GrokfastAdam(fusedModel, grokfast: Fused(filter));
            using GradientFilter? separateFilter = versions?.Fused(separateModel);
            using optim.Optimizer separateAdam = torch.optim.Adam(separateModel.parameters());
            using var reference = new BandwidthReference(elements * fused.BytesPerElement);
            using var cache = new CacheEviction();
            TimedOperation[] operations =
            [
                .. reference.Operations(cache.Evict),
                new(() => fused.step(), fusedModel.Restoring(pristine, cache)),
                new(() =>
                {
                    separateFilter?.step();
                    separateAdam.step();
                }, separateModel.Restoring(pristine, cache)),
            ];
            double[] medians = StepTimer.MedianMilliseconds(operations, versions?.WarmupSteps ?? 3, Runs);
            return new OptimizerThroughput(medians[2], medians[3], BandwidthReference.ReadModifyWriteMilliseconds(medians), fused.BytesPerElement, elements);
        }
        finally
        {
            foreach (Tensor t in pristine) t.Dispose();
        }
    }

    /// <summary>The same filter with the same hyperparameters as <see cref="FilterVersions.All"/>, to run inside the fused step.</summary>
    internal static GrokfastFilter? Fused(string filter) => filter switch
    {
        "none" => null,
        "ema" => GrokfastFilter.Ema(alpha: 0.98, lamb: 2.0),
        "ma" => GrokfastFilter.WindowedMean(window_size: FilterVersions.Window, lamb: 5.0),
        "kalman" => GrokfastFilter.Kalman(),
        _ => throw new ArgumentOutOfRangeException(nameof(filter), filter, "Unknown filter."),
    };
}
