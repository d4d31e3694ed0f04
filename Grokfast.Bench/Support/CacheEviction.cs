using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bench.Support;

/// <summary>
/// Reads a buffer twice the size of the largest cache, so the next timed operation starts from the same cache
/// state whatever ran before it: without this, an operation timed right after one that left the cache full
/// of dirty lines pays for writing them back (measured: up to 1.6 ms on a 3 ms step).
/// </summary>
internal sealed class CacheEviction : IDisposable
{
    /// <summary>Where the kernel does not say how large the caches are: larger than any last-level cache we know of but one.</summary>
    private const long UnknownCacheBytes = 128L << 20;

    private readonly Tensor scratch = torch.ones(2 * LargestCacheBytes() / sizeof(float));

    /// <summary>Streams the whole buffer through the cache (a torch reduction, on torch's own threads as backward would be).</summary>
    public void Evict()
    {
        using Tensor sum = scratch.sum();
    }

    public void Dispose() => scratch.Dispose();

    /// <summary>The largest cache Linux reports for the first core (its sizes read "32768K"); <see cref="UnknownCacheBytes"/> elsewhere.</summary>
    private static long LargestCacheBytes()
    {
        const string caches = "/sys/devices/system/cpu/cpu0/cache";
        if (!Directory.Exists(caches)) return UnknownCacheBytes;
        long largest = 0;
        foreach (string folder in Directory.EnumerateDirectories(caches, "index*"))
        {
            string file = Path.Combine(folder, "size");
            if (!File.Exists(file)) continue;
            string text = File.ReadAllText(file).Trim();
            if (text.EndsWith('K') && long.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out long kib))
                largest = Math.Max(largest, kib << 10);
        }
        return largest > 0 ? largest : UnknownCacheBytes;
    }
}
