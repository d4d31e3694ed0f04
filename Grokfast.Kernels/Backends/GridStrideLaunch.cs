namespace Grokfast.Kernels.Backends;

/// <summary>
/// The one launch-shape policy of every grid-stride pass, on ILGPU's CPU accelerator and on CUDA: as many threads as
/// every multiprocessor holds at once of the kernel, never more than the elements need; the grid-stride loop covers
/// the rest, so any length is one launch.
/// </summary>
internal static class GridStrideLaunch
{
    /// <summary>
    /// Blocks of <paramref name="threadsPerBlock"/> threads for a pass over <paramref name="length"/> elements (at least 1),
    /// where each multiprocessor holds <paramref name="residentThreadsPerMultiprocessor"/> of the kernel's threads at once.
    /// </summary>
    public static long Blocks(long length, int multiprocessors, int residentThreadsPerMultiprocessor, int threadsPerBlock)
    {
        long needed = (Math.Max(1, length) + threadsPerBlock - 1) / threadsPerBlock;
        long resident = (long)multiprocessors * Math.Max(1, residentThreadsPerMultiprocessor / threadsPerBlock);
        return Math.Min(needed, resident);
    }
}
