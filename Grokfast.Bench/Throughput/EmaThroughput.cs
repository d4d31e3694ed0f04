using Grokfast.Bench.Support;
using Grokfast.Filters;
using Grokfast.Reference;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bench.Throughput;

/// <summary>Times the fused EMA step, the two tensor-op versions and a copy of the same bytes, side by side.</summary>
internal static class EmaThroughput
{
    /// <summary>Read g and ema, write g and ema.</summary>
    private const int BytesPerElement = 16;
    private const double Alpha = 0.98;
    private const double Lamb = 2.0;

    public static FilterThroughput Measure(long elements, int tensors)
    {
        double fused = Time(elements, tensors, model => new EmaFilter(model, Alpha, Lamb), filter => filter.step);
        double literal = Time(elements, tensors, model => new ReferenceEma(model, Alpha, Lamb), filter => filter.step);
        double inPlace = Time(elements, tensors, model => new InPlaceEma(model, Alpha, Lamb), filter => filter.step);
        double copy = CopyMilliseconds(elements * BytesPerElement / 2 / sizeof(float));
        return new FilterThroughput(fused, literal, inPlace, copy, BytesPerElement, elements);
    }

    private static double Time<TFilter>(long elements, int tensors, Func<SyntheticModel, TFilter> create, Func<TFilter, Action> step)
        where TFilter : IDisposable
    {
        using var model = new SyntheticModel(elements, tensors);
        Tensor[] pristine = model.SnapshotGradients();
        using TFilter filter = create(model);
        // Fresh gradients before every timed step, as backward() would leave them; the restore is not timed.
        double milliseconds = StepTimer.MedianMilliseconds(step(filter), () => model.RestoreGradients(pristine));
        foreach (Tensor t in pristine) t.Dispose();
        return milliseconds;
    }

    /// <summary>A plain copy of <paramref name="floats"/> floats: it reads and writes 8 bytes per float.</summary>
    private static double CopyMilliseconds(long floats)
    {
        using Tensor source = torch.randn(floats, generator: new torch.Generator(1));
        using Tensor target = torch.empty_like(source);
        return StepTimer.MedianMilliseconds(() => target.copy_(source), () => { });
    }
}
