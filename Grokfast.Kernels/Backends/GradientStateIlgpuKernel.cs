using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Kernels.Backends;

/// <summary>Runs an ILGPU kernel, compiled once, as one grid-stride launch per step.</summary>
/// <typeparam name="TConstants">The filter's per-step scalars, passed by value to every thread.</typeparam>
public sealed class GradientStateIlgpuKernel<TConstants> : IGradientStateKernel<TConstants>
    where TConstants : unmanaged
{
    private readonly IlgpuAccelerator accelerator;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, TConstants> launch;
    private MemoryBuffer? gradients;
    private MemoryBuffer? state;

    /// <summary>Compiles <paramref name="kernel"/> for <paramref name="accelerator"/>; the accelerator stays the caller's.</summary>
    public GradientStateIlgpuKernel(IlgpuAccelerator accelerator, Action<Index1D, ArrayView<float>, ArrayView<float>, TConstants> kernel)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(kernel);
        this.accelerator = accelerator;
        launch = accelerator.Accelerator.LoadAutoGroupedStreamKernel(kernel);
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint state, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ReleaseViews();
        this.gradients = accelerator.WrapFloats(gradients, length);
        this.state = accelerator.WrapFloats(state, length);
    }

    /// <inheritdoc />
    public void Filter(long offset, long length, TConstants constants)
    {
        if (gradients is null || state is null) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, gradients.Length - offset);
        if (length == 0) return;
        launch(accelerator.GridStrideThreads(length),
            gradients.AsArrayView<float>(offset, length), state.AsArrayView<float>(offset, length), constants);
        accelerator.Accelerator.Synchronize();
    }

    private void ReleaseViews()
    {
        gradients?.Dispose();
        state?.Dispose();
        gradients = state = null;
    }

    /// <inheritdoc />
    public void Dispose() => ReleaseViews();
}
