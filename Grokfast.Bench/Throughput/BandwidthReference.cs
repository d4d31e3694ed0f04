using Grokfast.Bench.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bench.Throughput;

/// <summary>
/// The bandwidth ceilings a streaming pass is compared with, each moving the same number of bytes: a plain
/// copy (the faster of torch's <c>copy_</c> and a span copy split over all cores), and an in-place
/// read-modify-write pass (torch's <c>add_</c>), which — like the filters, and unlike a copy — writes back
/// to the lines it has just read and so pays no read-for-ownership on its stores.
/// </summary>
internal static class BandwidthReference
{
    public static unsafe double CopyMilliseconds(long floats)
    {
        using Tensor source = torch.randn(floats, generator: new torch.Generator(1));
        using Tensor target = torch.empty_like(source);
        double torchCopy = StepTimer.MedianMilliseconds(() => target.copy_(source), () => { });
        nint from, to;
        using (torch.NewDisposeScope())
        {
            from = source.storage<float>().data_ptr();
            to = target.storage<float>().data_ptr();
        }
        double spanCopy = StepTimer.MedianMilliseconds(() => ParallelCopy((float*)from, (float*)to, floats), () => { });
        return Math.Min(torchCopy, spanCopy);
    }

    /// <summary>An in-place <c>x += 1</c> over <paramref name="floats"/> floats: it reads and writes 8 bytes per float.</summary>
    public static double ReadModifyWriteMilliseconds(long floats)
    {
        using Tensor data = torch.zeros(floats);
        using Scalar one = 1.0f;
        return StepTimer.MedianMilliseconds(() => data.add_(one), () => { });
    }

    private static unsafe void ParallelCopy(float* from, float* to, long length)
    {
        int chunks = Environment.ProcessorCount;
        long chunk = (length + chunks - 1) / chunks;
        Parallel.For(0, chunks, c =>
        {
            long start = c * chunk, count = Math.Min(chunk, length - start);
            if (count > 0) new ReadOnlySpan<float>(from + start, checked((int)count)).CopyTo(new Span<float>(to + start, checked((int)count)));
        });
    }
}
