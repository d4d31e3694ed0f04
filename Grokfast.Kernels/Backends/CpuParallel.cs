namespace Grokfast.Kernels.Backends;

/// <summary>Splits a flat range over the machine's cores in chunks large enough to pay for a thread hand-off.</summary>
internal static class CpuParallel
{
    /// <summary>Below this many elements one core streams the range faster than a fork-join across cores.</summary>
    internal const long MinElementsPerChunk = 1 << 16;

    /// <summary>Chunk starts are aligned to this many floats (one 64-byte cache line), so no two cores share a line.</summary>
    private const long Alignment = 16;

    /// <summary>Runs <paramref name="body"/>(start, length) over [0, <paramref name="length"/>) in disjoint chunks.</summary>
    internal static void For(long length, Action<long, long> body)
    {
        int chunks = (int)Math.Clamp(length / MinElementsPerChunk, 1, Environment.ProcessorCount);
        if (chunks == 1)
        {
            body(0, length);
            return;
        }
        long chunkLength = (length + chunks - 1) / chunks;
        chunkLength = (chunkLength + Alignment - 1) / Alignment * Alignment;
        Parallel.For(0, chunks, chunk =>
        {
            long start = chunk * chunkLength;
            if (start < length) body(start, Math.Min(chunkLength, length - start));
        });
    }
}
