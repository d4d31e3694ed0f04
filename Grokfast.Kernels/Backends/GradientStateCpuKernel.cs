namespace Grokfast.Kernels.Backends;

/// <summary>Runs a vectorised C# twin over host memory, split over cores.</summary>
/// <typeparam name="TConstants">The filter's per-step scalars.</typeparam>
public sealed unsafe class GradientStateCpuKernel<TConstants> : IGradientStateKernel<TConstants>
    where TConstants : unmanaged
{
    private readonly delegate*<float*, float*, long, TConstants, void> filterRange;
    private float* gradients;
    private float* state;
    private long length;

    /// <summary>Wraps <paramref name="filterRange"/>(g, state, count, constants), which filters contiguous elements in place.</summary>
    public GradientStateCpuKernel(delegate*<float*, float*, long, TConstants, void> filterRange)
    {
        this.filterRange = filterRange;
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint state, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = (float*)gradients;
        this.state = (float*)state;
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

    private readonly struct FilterJob(delegate*<float*, float*, long, TConstants, void> filterRange, float* gradients, float* state, TConstants constants) : IRangeJob
    {
        public void Run(long start, long count) => filterRange(gradients + start, state + start, count, constants);
    }
}
