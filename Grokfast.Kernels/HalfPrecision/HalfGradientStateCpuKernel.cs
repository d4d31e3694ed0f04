using Grokfast.Kernels.Backends;

namespace Grokfast.Kernels.HalfPrecision;

/// <summary>Runs a vectorised twin over 16-bit gradients and their float32 state in host memory, split over cores (as <see cref="GradientStateCpuKernel{TConstants}"/> does for float32).</summary>
/// <typeparam name="TConstants">The filter's per-step scalars.</typeparam>
internal sealed unsafe class HalfGradientStateCpuKernel<TConstants> : IGradientStateKernel<TConstants>
    where TConstants : unmanaged
{
    private readonly delegate*<ushort*, float*, long, TConstants, void> filterRange;
    private ushort* gradients;
    private float* state;
    private long length;

    /// <summary>Wraps <paramref name="filterRange"/>(g, state, count, constants), which filters contiguous elements in place.</summary>
    public HalfGradientStateCpuKernel(delegate*<ushort*, float*, long, TConstants, void> filterRange)
    {
        this.filterRange = filterRange;
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint state, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = (ushort*)gradients;
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

    private readonly struct FilterJob(delegate*<ushort*, float*, long, TConstants, void> filterRange, ushort* gradients, float* state, TConstants constants) : IRangeJob
    {
        public void Run(long start, long count) => filterRange(gradients + start, state + start, count, constants);
    }
}
