using Grokfast.Bench.Support;
using Grokfast.Filters;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Throughput;

/// <summary>Times one filter's fused step, its two tensor-op versions and a copy of the same bytes, side by side.</summary>
internal static class FilterMeasurement
{
    private const int Runs = 15;

    public static FilterThroughput Measure(FilterVersions filter, long elements, int tensors, ScalarType dtype)
    {
        // Every synthetic model of this size starts from the same fixed-seed gradients, so one snapshot
        // restores them all: fresh gradients before every timed step, as backward() would leave them.
        Tensor[] pristine = [];
        try
        {
            // The literal port is 30-200x slower than the rest, so noise cannot move its ratio: it runs on its
            // own, and the peak memory stays at two filters' state (MA's window is 4 GB at 10 M elements).
            double literal;
            using (var literalModel = new SyntheticModel(elements, tensors, dtype: dtype))
            {
                pristine = literalModel.SnapshotGradients();
                (Action step, IDisposable owner) = filter.Literal(literalModel);
                using (owner) literal = StepTimer.MedianMilliseconds(step, () => literalModel.RestoreGradients(pristine), filter.WarmupSteps, Runs);
            }
            // The literal port leaves tensors to finalizers; freeing them (and unmapping their pages) while the
            // others are timed would land on whichever operation is running.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();

            using var fusedModel = new SyntheticModel(elements, tensors, dtype: dtype);
            using var inPlaceModel = new SyntheticModel(elements, tensors, dtype: dtype);
            using GradientFilter fused = filter.Fused(fusedModel);
            (Action inPlaceStep, IDisposable inPlaceOwner) = filter.InPlace(inPlaceModel);
            using IDisposable inPlace = inPlaceOwner;
            // The guard's read of the gradients is counted with it on, and left out for the pass alone.
            fused.SkipNonFinite = false;
            int passBytes = fused.BytesPerElement;
            fused.SkipNonFinite = true;
            int bytes = fused.BytesPerElement;
            using var reference = new BandwidthReference(elements * bytes);
            using var cache = new CacheEviction();
            TimedOperation[] operations =
            [
                .. reference.Operations(cache.Evict),
                new(() => { fused.SkipNonFinite = true; fused.step(); }, fusedModel.Restoring(pristine, cache)),
                new(() => { fused.SkipNonFinite = false; fused.step(); }, fusedModel.Restoring(pristine, cache)),
                new(inPlaceStep, inPlaceModel.Restoring(pristine, cache)),
            ];
            double[] medians = StepTimer.MedianMilliseconds(operations, filter.WarmupSteps, Runs);
            return new FilterThroughput(medians[2], medians[3], literal, medians[4],
                BandwidthReference.CopyMilliseconds(medians), BandwidthReference.ReadModifyWriteMilliseconds(medians),
                bytes, passBytes, elements);
        }
        finally
        {
            foreach (Tensor t in pristine) t.Dispose();
        }
    }
}
