namespace Grokfast.Kernels.Backends;

/// <summary>One call's split of a range into chunks, shared by the threads that run them.</summary>
internal unsafe struct RangeWork
{
    /// <summary>Calls the job's <see cref="IRangeJob.Run"/>; a plain pointer so native threads can be handed it.</summary>
    public delegate*<void*, long, long, void> Body;

    /// <summary>The job struct on the caller's stack.</summary>
    public void* Job;

    /// <summary>Elements in the whole range.</summary>
    public long Length;

    /// <summary>Elements per chunk; every chunk but the last starts on a cache line.</summary>
    public long ChunkLength;

    /// <summary>Chunks in the range.</summary>
    public int Chunks;

    /// <summary>Runs chunk <paramref name="chunk"/> of the range.</summary>
    public readonly void RunChunk(int chunk)
    {
        long start = chunk * ChunkLength;
        if (start < Length) Body(Job, start, Math.Min(ChunkLength, Length - start));
    }
}
