using Grokfast.Kernels.Backends;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>
/// Runs <see cref="WindowedMeanKernels"/>' ILGPU kernel, compiled once, as one grid-stride launch per step. The host
/// decides each step here: the constants go through a one-element buffer and the skip flag stays 0.
/// </summary>
public sealed class WindowedMeanIlgpuKernel : IWindowedMeanKernel
{
    private readonly IlgpuAccelerator accelerator;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<WindowedMeanConstants>, ArrayView<int>, long> launch;
    private readonly MemoryBuffer1D<WindowedMeanConstants, Stride1D.Dense> step;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> skip;
    private MemoryBuffer? gradients;
    private MemoryBuffer? ring;
    private MemoryBuffer? sums;
    private long length;

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>; the accelerator stays the caller's.</summary>
    public WindowedMeanIlgpuKernel(IlgpuAccelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        this.accelerator = accelerator;
        launch = accelerator.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<WindowedMeanConstants>, ArrayView<int>, long>(WindowedMeanKernels.Kernel);
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
        this.gradients = accelerator.WrapFloats(gradients, length);
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
            gradients.AsArrayView<float>(offset, length),
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
