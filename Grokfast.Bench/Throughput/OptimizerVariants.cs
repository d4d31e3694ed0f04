using Grokfast.Bench.Support;
using Grokfast.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Grokfast.Bench.Throughput;

/// <summary>
/// The fused EMA + AdamW step as training scripts run it, side by side in one run on the same synthetic parameters: one
/// parameter group; two (decay on every other tensor, none on the rest); fused clipping; and <c>clip_grad_norm_</c>
/// then the fused step. The limit is far below the gradients' norm, so every step clips.
/// </summary>
internal static class OptimizerVariants
{
    private const int Runs = 15;
    private const double Limit = 1e-3;

    public static VariantThroughput Measure(long elements, int tensors, ScalarType dtype)
    {
        SyntheticModel[] models = [.. Enumerable.Range(0, 4).Select(_ => new SyntheticModel(elements, tensors, dtype: dtype))];
        Tensor[] pristine = models[0].SnapshotGradients();
        try
        {
            Parameter[] split = [.. models[1].parameters()];
            Parameter[] clipped = [.. models[3].parameters()];
            using var oneGroup = new GrokfastAdamW(models[0], grokfast: Ema());
            using var twoGroups = new GrokfastAdamW([new FusedAdamOptimizer.ParamGroup(split.Where((_, i) => i % 2 == 0), weight_decay: 1e-2),
                new FusedAdamOptimizer.ParamGroup(split.Where((_, i) => i % 2 == 1), weight_decay: 0.0)], grokfast: Ema());
            using var fusedClipping = new GrokfastAdamW(models[2], grokfast: Ema()) { max_grad_norm = Limit };
            using var afterClipping = new GrokfastAdamW(models[3], grokfast: Ema());
            using var cache = new CacheEviction();
            TimedOperation[] operations =
            [
                new(() => oneGroup.step(), models[0].Restoring(pristine, cache)),
                new(() => twoGroups.step(), models[1].Restoring(pristine, cache)),
                new(() => fusedClipping.step(), models[2].Restoring(pristine, cache)),
                new(() =>
                {
                    torch.nn.utils.clip_grad_norm_(clipped, Limit);
                    afterClipping.step();
                }, models[3].Restoring(pristine, cache)),
            ];
            double[] medians = StepTimer.MedianMilliseconds(operations, warmup: 3, Runs);
            return new VariantThroughput(medians[0], medians[1], medians[2], medians[3]);
        }
        finally
        {
            foreach (Tensor t in pristine) t.Dispose();
            foreach (SyntheticModel model in models) model.Dispose();
        }
    }

    private static GrokfastFilter Ema() => OptimizerMeasurement.Fused("ema")!;
}

/// <summary>The fused EMA + AdamW step's medians in one run (<see cref="OptimizerVariants"/>).</summary>
/// <param name="OneGroupMs">One parameter group.</param>
/// <param name="TwoGroupsMs">Two groups, decay and no decay.</param>
/// <param name="FusedClippingMs">One group, <c>max_grad_norm</c> set.</param>
/// <param name="ClipThenFusedMs"><c>clip_grad_norm_</c>, then the fused step.</param>
internal sealed record VariantThroughput(double OneGroupMs, double TwoGroupsMs, double FusedClippingMs, double ClipThenFusedMs)
{
    public double TwoGroupsRatio => TwoGroupsMs / OneGroupMs;

    public double FusedClippingRatio => FusedClippingMs / OneGroupMs;

    public double ClipThenFusedRatio => ClipThenFusedMs / OneGroupMs;
}
