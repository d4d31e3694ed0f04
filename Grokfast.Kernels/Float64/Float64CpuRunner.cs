using Grokfast.Kernels.Backends;

namespace Grokfast.Kernels.Float64;

/// <summary>
/// Runs a float64 filter's vectorised twin over float64 gradients and their float64 state in host memory, split over cores.
/// </summary>
/// <typeparam name="TGradient">The gradients' element type.</typeparam>
/// <typeparam name="TState">The state's element type.</typeparam>
/// <typeparam name="TConstants">The filter's per-step scalars.</typeparam>
internal sealed unsafe class Float64CpuRunner<TGradient, TState, TConstants> : IFloat64Kernel<TConstants>
    where TGradient : unmanaged
    where TState : unmanaged
    where TConstants : unmanaged
{
    private readonly delegate*<TGradient*, TState*, long, TConstants, void> filterRange;
    private TGradient* gradients;
    private TState* state;
    private long length;

    /// <summary>Wraps <paramref name="filterRange"/>(g, state, count, constants), which filters contiguous elements in place.</summary>
    public Float64CpuRunner(delegate*<TGradient*, TState*, long, TConstants, void> filterRange)
    {
        this.filterRange = filterRange;
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint state, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = (TGradient*)gradients;
        this.state = (TState*)state;
        this.length = length;
    }

    /// <inheritdoc />
    public void Filter(long offset, long length, TConstants constants)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, this.length - offset);
        var job = new FilterJob(filterRange, gradients + offset, state + offset, constants);
        CpuParallel.For(length, ref job);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Owns no memory: the buffers belong to the caller.
    }

    private readonly struct FilterJob(delegate*<TGradient*, TState*, long, TConstants, void> filterRange, TGradient* gradients, TState* state, TConstants constants) : IRangeJob
    {
        public void Run(long start, long count) => filterRange(gradients + start, state + start, count, constants);
    }
}
