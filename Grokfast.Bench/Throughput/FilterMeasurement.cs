using Grokfast.Bench.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Throughput;

/// <summary>Times one filter's fused step, its two tensor-op versions and a copy of the same bytes, side by side.</summary>
internal static class FilterMeasurement
{
    public static FilterThroughput Measure(FilterVersions filter, long elements, int tensors)
    {
        double fused = Time(m => filter.Fused(m, true), filter.WarmupSteps, elements, tensors);
        double unguarded = Time(m => filter.Fused(m, false), filter.WarmupSteps, elements, tensors);
        double literal = Time(filter.Literal, filter.WarmupSteps, elements, tensors);
        double inPlace = Time(filter.InPlace, filter.WarmupSteps, elements, tensors);
        long floats = elements * filter.BytesPerElement / 2 / sizeof(float);
        double copy = BandwidthReference.CopyMilliseconds(floats);
        double readModifyWrite = BandwidthReference.ReadModifyWriteMilliseconds(floats);
        return new FilterThroughput(fused, unguarded, literal, inPlace, copy, readModifyWrite, filter.BytesPerElement, elements);
    }

    private static double Time(Func<Module, (Action Step, IDisposable Owner)> create, int warmupSteps, long elements, int tensors)
    {
        using var model = new SyntheticModel(elements, tensors);
        Tensor[] pristine = model.SnapshotGradients();
        (Action step, IDisposable owner) = create(model);
        using IDisposable filter = owner;
        // Fresh gradients before every timed step, as backward() would leave them; the restore is not timed.
        double milliseconds = StepTimer.MedianMilliseconds(step, () => model.RestoreGradients(pristine), warmupSteps);
        foreach (Tensor t in pristine) t.Dispose();
        return milliseconds;
    }
}
