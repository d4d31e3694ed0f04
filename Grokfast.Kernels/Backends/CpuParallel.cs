namespace Grokfast.Kernels.Backends;

/// <summary>
/// Splits a flat range over the cores in chunks large enough to pay for a thread hand-off. The chunks run on
/// libtorch's OpenMP team when <see cref="OpenMpTeam"/> is bound to it, else on .NET's thread pool.
/// </summary>
internal static unsafe class CpuParallel
{
    /// <summary>Below this many elements one core streams the range faster than a fork-join across cores.</summary>
    internal const long MinElementsPerChunk = 1 << 16;

    /// <summary>Chunk starts are aligned to this many floats (one 64-byte cache line), so no two cores share a line.</summary>
    private const long Alignment = 16;

    /// <summary>Runs <paramref name="job"/> over [0, <paramref name="length"/>) in disjoint chunks and returns when all are done.</summary>
    internal static void For<TJob>(long length, ref TJob job)
        where TJob : unmanaged, IRangeJob
    {
        int chunks = (int)Math.Clamp(length / MinElementsPerChunk, 1, OpenMpTeam.MaxThreads);
        if (chunks == 1)
        {
            job.Run(0, length);
            return;
        }
        long chunkLength = (length + chunks - 1) / chunks;
        chunkLength = (chunkLength + Alignment - 1) / Alignment * Alignment;
        fixed (TJob* jobAddress = &job)
        {
            var work = new RangeWork { Body = &RunJob<TJob>, Job = jobAddress, Length = length, ChunkLength = chunkLength, Chunks = chunks };
            if (!OpenMpTeam.TryRun(&work)) RunOnThreadPool(&work);
        }
    }

    private static void RunOnThreadPool(RangeWork* work) => Parallel.For(0, work->Chunks, chunk => work->RunChunk(chunk));

    private static void RunJob<TJob>(void* job, long start, long count)
        where TJob : unmanaged, IRangeJob => ((TJob*)job)->Run(start, count);
}
