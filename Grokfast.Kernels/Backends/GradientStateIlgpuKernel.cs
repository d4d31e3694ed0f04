using ILGPU;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// Runs an ILGPU kernel over float32 gradients and their float32 state, compiled once, as one grid-stride launch per
/// step. The host decides each step here: the constants go to the kernel through a one-element buffer and its skip
/// flag stays 0.
/// </summary>
/// <typeparam name="TConstants">The filter's per-step scalars, passed by value to every thread.</typeparam>
public sealed class GradientStateIlgpuKernel<TConstants> : IGradientStateKernel<TConstants>
    where TConstants : unmanaged
{
    private readonly GradientStateIlgpuRunner<float, TConstants> runner;

    /// <summary>Compiles <paramref name="kernel"/> for <paramref name="accelerator"/>; the accelerator stays the caller's.</summary>
    public GradientStateIlgpuKernel(IlgpuAccelerator accelerator, Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<TConstants>, ArrayView<int>> kernel)
    {
        runner = new GradientStateIlgpuRunner<float, TConstants>(accelerator, kernel);
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint state, long length) => runner.Bind(gradients, state, length);

    /// <inheritdoc />
    public void Filter(long offset, long length, TConstants constants) => runner.Filter(offset, length, constants);

    /// <inheritdoc />
    public void Dispose() => runner.Dispose();
}
