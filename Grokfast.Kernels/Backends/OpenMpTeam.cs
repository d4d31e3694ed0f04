using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// Runs the CPU twins on the OpenMP thread team that libtorch already uses for its own operations.
/// </summary>
/// <remarks>
/// After each parallel operation, libtorch's OpenMP threads spin for a while waiting for the next one.
/// A filter pass on .NET's thread pool right after <c>backward()</c> competes with them for the cores
/// (on two cores it lost 30–40 % of its time to them); on the same team, the spinning threads are the
/// ones that take the filter's chunks, so the hand-off is fast and nothing competes. Binding goes through
/// GNU OpenMP's entry point for <c>#pragma omp parallel</c> (<c>GOMP_parallel</c>), which libgomp and
/// LLVM's libomp both export. Nothing here allocates per call.
/// </remarks>
internal static unsafe class OpenMpTeam
{
    private static delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void> parallel;
    private static delegate* unmanaged<int> threadNumber;
    private static delegate* unmanaged<int> threadCount;
    private static delegate* unmanaged<int> maxThreads;

    /// <summary>Whether the CPU twins run on an OpenMP team rather than on .NET's thread pool.</summary>
    public static bool IsBound => parallel != null;

    /// <summary>
    /// Threads a parallel region started from the calling thread would get: OpenMP's <c>omp_get_max_threads</c>,
    /// which <c>torch.set_num_threads</c> sets; .NET's processor count when unbound.
    /// </summary>
    internal static int MaxThreads => IsBound ? maxThreads() : Environment.ProcessorCount;

    /// <summary>
    /// Binds to the OpenMP runtime reachable from <paramref name="library"/>, a handle from
    /// <see cref="NativeLibrary"/> whose own exports or dependencies include it; returns false, and leaves
    /// the CPU twins on .NET's thread pool, when it has none. Binding again rebinds.
    /// </summary>
    internal static bool TryBind(nint library)
    {
        if (library == 0) throw new ArgumentException("The library handle is null.", nameof(library));
        if (!NativeLibrary.TryGetExport(library, "GOMP_parallel", out nint parallelExport)
            || !NativeLibrary.TryGetExport(library, "omp_get_thread_num", out nint threadNumberExport)
            || !NativeLibrary.TryGetExport(library, "omp_get_num_threads", out nint threadCountExport)
            || !NativeLibrary.TryGetExport(library, "omp_get_max_threads", out nint maxThreadsExport))
        {
            return false;
        }
        threadNumber = (delegate* unmanaged<int>)threadNumberExport;
        threadCount = (delegate* unmanaged<int>)threadCountExport;
        maxThreads = (delegate* unmanaged<int>)maxThreadsExport;
        parallel = (delegate* unmanaged<delegate* unmanaged<void*, void>, void*, uint, uint, void>)parallelExport;
        return true;
    }

    /// <summary>Goes back to .NET's thread pool (tests compare the two).</summary>
    internal static void Unbind() => parallel = null;

    /// <summary>Runs every chunk of <paramref name="work"/> on a team of at most its chunk count threads; false when unbound.</summary>
    internal static bool TryRun(RangeWork* work)
    {
        var run = parallel;
        if (run == null) return false;
        run(&RunChunks, work, (uint)work->Chunks, 0);
        return true;
    }

    // The team may be smaller than asked for (a nested region gets one thread), so each thread strides
    // over the chunks rather than taking exactly one.
    [UnmanagedCallersOnly]
    private static void RunChunks(void* data)
    {
        var work = (RangeWork*)data;
        int threads = threadCount();
        for (int chunk = threadNumber(); chunk < work->Chunks; chunk += threads) work->RunChunk(chunk);
    }
}
