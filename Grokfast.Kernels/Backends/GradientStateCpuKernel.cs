namespace Grokfast.Kernels.Backends;

/// <summary>Runs a vectorised C# twin over float32 gradients and their state in host memory, split over cores.</summary>
/// <typeparam name="TConstants">The filter's per-step scalars.</typeparam>
public sealed unsafe class GradientStateCpuKernel<TConstants> : IGradientStateKernel<TConstants>
    where TConstants : unmanaged
{
    private readonly GradientStateCpuRunner<float, float, TConstants> runner;

    /// <summary>Wraps <paramref name="filterRange"/>(g, state, count, constants), which filters contiguous elements in place.</summary>
    public GradientStateCpuKernel(delegate*<float*, float*, long, TConstants, void> filterRange)
    {
        runner = new GradientStateCpuRunner<float, float, TConstants>(filterRange);
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint state, long length) => runner.Bind(gradients, state, length);

    /// <inheritdoc />
    public void Filter(long offset, long length, TConstants constants) => runner.Filter(offset, length, constants);

    /// <inheritdoc />
    public void Dispose() => runner.Dispose();
}
