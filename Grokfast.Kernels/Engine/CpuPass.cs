using Grokfast.Kernels.Backends;

namespace Grokfast.Kernels.Engine;

/// <summary>Runs the CPU twin over host memory, split over cores (on libtorch's OpenMP team when bound).</summary>
internal sealed unsafe class CpuPass<TStore, TFormat, TFilter, TUpdate>(PassBuffers buffers) : IHostPass<TFilter>
    where TStore : unmanaged
    where TFormat : struct, IGradientFormat<TStore>
    where TFilter : unmanaged, IFilterStep<TFilter>
    where TUpdate : struct, IPassUpdate
{
    /// <inheritdoc />
    public void Run(long offset, long length, PassConstants<TFilter> constants)
    {
        long slot = buffers.CheckRun(offset, length, constants.Filter);
        var start = new PassPointers<TStore>((TStore*)buffers.Gradients, (float*)buffers.Estimates + slot, (double*)buffers.Sums,
            (float*)buffers.Master, (TStore*)buffers.Parameters, (float*)buffers.FirstMoments, (float*)buffers.SecondMoments);
        var job = new Job(start.Advance(offset), constants);
        CpuParallel.For(length, ref job);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Owns no memory: the buffers belong to the caller.
    }

    private readonly struct Job(PassPointers<TStore> at, PassConstants<TFilter> constants) : IRangeJob
    {
        public void Run(long start, long count) => CpuTwin<TStore, TFormat, TFilter, TUpdate>.Run(at.Advance(start), count, constants);
    }
}
