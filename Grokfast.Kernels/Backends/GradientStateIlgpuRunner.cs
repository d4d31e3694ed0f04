using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// Runs a gradient-and-state ILGPU kernel over gradients of element type <typeparamref name="TGradient"/> (float32, or
/// 16-bit bit patterns) and float32 state, compiled once, as one grid-stride launch per step: the one runner behind
/// <see cref="GradientStateIlgpuKernel{TConstants}"/> and the 16-bit filters on ILGPU's CPU accelerator. The host
/// decides each step here: the constants go to the kernel through a one-element buffer and its skip flag stays 0.
/// </summary>
/// <typeparam name="TGradient">The gradients' element type.</typeparam>
/// <typeparam name="TConstants">The filter's per-step scalars.</typeparam>
internal sealed class GradientStateIlgpuRunner<TGradient, TConstants> : IGradientStateKernel<TConstants>
    where TGradient : unmanaged
    where TConstants : unmanaged
{
    private readonly IlgpuAccelerator accelerator;
    private readonly Action<Index1D, ArrayView<TGradient>, ArrayView<float>, ArrayView<TConstants>, ArrayView<int>> launch;
    private readonly MemoryBuffer1D<TConstants, Stride1D.Dense> step;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> skip;
    private MemoryBuffer? gradients;
    private MemoryBuffer? state;

    /// <summary>Compiles <paramref name="kernel"/> for <paramref name="accelerator"/>; the accelerator stays the caller's.</summary>
    public GradientStateIlgpuRunner(IlgpuAccelerator accelerator, Action<Index1D, ArrayView<TGradient>, ArrayView<float>, ArrayView<TConstants>, ArrayView<int>> kernel)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        ArgumentNullException.ThrowIfNull(kernel);
        this.accelerator = accelerator;
        launch = accelerator.Accelerator.LoadAutoGroupedStreamKernel(kernel);
        step = accelerator.Accelerator.Allocate1D<TConstants>(1);
        skip = accelerator.Accelerator.Allocate1D<int>(1);
        skip.MemSetToZero();
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint state, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ReleaseViews();
        this.gradients = accelerator.Wrap<TGradient>(gradients, length);
        this.state = accelerator.WrapFloats(state, length);
    }

    /// <inheritdoc />
    public void Filter(long offset, long length, TConstants constants)
    {
        if (gradients is null || state is null) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, gradients.Length - offset);
        if (length == 0) return;
        step.View.CopyFromCPU(ref constants, 1);
        launch(accelerator.GridStrideThreads(length),
            gradients.AsArrayView<TGradient>(offset, length), state.AsArrayView<float>(offset, length), step.View, skip.View);
        accelerator.Accelerator.Synchronize();
    }

    private void ReleaseViews()
    {
        gradients?.Dispose();
        state?.Dispose();
        gradients = state = null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ReleaseViews();
        step.Dispose();
        skip.Dispose();
    }
}
