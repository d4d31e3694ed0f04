using Grokfast.Bench.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bench.Throughput;

/// <summary>
/// The bandwidth ceilings a streaming pass is compared with, each moving a given number of bytes: a plain
/// copy (torch's <c>copy_</c>), and an in-place
/// read-modify-write pass (torch's <c>add_</c>), which — like the filters, and unlike a copy — writes back
/// to the lines it has just read and so pays no read-for-ownership on its stores.
/// </summary>
internal sealed class BandwidthReference : IDisposable
{
    private readonly Tensor source;
    private readonly Tensor target;
    private readonly Scalar one = 1.0f;

    /// <summary>Buffers for passes that move <paramref name="bytes"/> bytes: a copy reads half and writes half.</summary>
    public BandwidthReference(long bytes)
    {
        long floats = bytes / 2 / sizeof(float);
        source = torch.randn(floats, generator: new torch.Generator(1));
        target = torch.empty_like(source);
    }

    /// <summary>The two passes, to time beside the filters, each after <paramref name="prepare"/>.</summary>
    public IReadOnlyList<TimedOperation> Operations(Action prepare) =>
    [
        new(() => target.copy_(source), prepare),
        new(() => target.add_(one), prepare),
    ];

    /// <summary>The copy's time from the medians of <see cref="Operations"/>.</summary>
    public static double CopyMilliseconds(ReadOnlySpan<double> medians) => medians[0];

    /// <summary>The read-modify-write pass's time from the medians of <see cref="Operations"/>.</summary>
    public static double ReadModifyWriteMilliseconds(ReadOnlySpan<double> medians) => medians[1];

    public void Dispose()
    {
        source.Dispose();
        target.Dispose();
        one.Dispose();
    }
}
