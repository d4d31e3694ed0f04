using Grokfast.Kernels.Backends;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>
/// Runs a windowed-mean ILGPU kernel over gradients of element type <typeparamref name="TGradient"/> (float32, or 16-bit
/// bit patterns), compiled once, as one grid-stride launch per step: the one runner behind
/// <see cref="WindowedMeanIlgpuKernel"/> and the 16-bit windowed mean on ILGPU's CPU accelerator. The host decides each
/// step here: the constants go through a one-element buffer and the skip flag stays 0.
/// </summary>
/// <typeparam name="TGradient">The gradients' element type.</typeparam>
internal sealed class WindowedMeanIlgpuRunner<TGradient> : IWindowedMeanKernel
    where TGradient : unmanaged
{
    private readonly IlgpuAccelerator accelerator;
    private readonly Action<Index1D, ArrayView<TGradient>, ArrayView<float>, ArrayView<double>, ArrayView<WindowedMeanConstants>, ArrayView<int>, long> launch;
    private readonly MemoryBuffer1D<WindowedMeanConstants, Stride1D.Dense> step;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> skip;
    private MemoryBuffer? gradients;
    private MemoryBuffer? ring;
    private MemoryBuffer? sums;
    private long length;

    /// <summary>Compiles <paramref name="kernel"/> for <paramref name="accelerator"/>; the accelerator stays the caller's.</summary>
    public WindowedMeanIlgpuRunner(IlgpuAccelerator accelerator,
        Action<Index1D, ArrayView<TGradient>, ArrayView<float>, ArrayView<double>, ArrayView<WindowedMeanConstants>, ArrayView<int>, long> kernel)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        this.accelerator = accelerator;
        launch = accelerator.Accelerator.LoadAutoGroupedStreamKernel(kernel);
        step = accelerator.Accelerator.Allocate1D<WindowedMeanConstants>(1);
        skip = accelerator.Accelerator.Allocate1D<int>(1);
        skip.MemSetToZero();
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint ring, nint sums, long length, int windowSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        ReleaseViews();
        this.gradients = accelerator.Wrap<TGradient>(gradients, length);
        this.ring = accelerator.WrapFloats(ring, length * windowSize);
        this.sums = accelerator.WrapDoubles(sums, length);
        this.length = length;
    }

    /// <inheritdoc />
    public void Filter(long offset, long length, WindowedMeanConstants constants)
    {
        if (gradients is null || ring is null || sums is null) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, this.length - offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(constants.Slot * this.length, ring.Length);
        if (length == 0) return;
        step.View.CopyFromCPU(ref constants, 1);
        launch(accelerator.GridStrideThreads(length),
            gradients.AsArrayView<TGradient>(offset, length),
            ring.AsArrayView<float>(offset, ring.Length - offset),
            sums.AsArrayView<double>(offset, length),
            step.View, skip.View, this.length);
        accelerator.Accelerator.Synchronize();
    }

    private void ReleaseViews()
    {
        gradients?.Dispose();
        ring?.Dispose();
        sums?.Dispose();
        gradients = ring = sums = null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ReleaseViews();
        step.Dispose();
        skip.Dispose();
    }
}
