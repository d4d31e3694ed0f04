using Grokfast.Kernels.Backends;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// Runs the ILGPU pass on ILGPU's CPU accelerator over host memory, compiled once, as one grid-stride launch per step: the
/// exact code that runs on CUDA, for testing without a GPU. The host decides each step here: the constants go to the
/// kernel through a one-element buffer and its skip flag stays 0.
/// </summary>
internal sealed class IlgpuPass<TStore, TFormat, TFilter, TUpdate> : IHostPass<TFilter>
    where TStore : unmanaged
    where TFormat : struct, IGradientFormat<TStore>
    where TFilter : unmanaged, IFilterStep<TFilter>
    where TUpdate : struct, IPassUpdate
{
    private readonly IlgpuAccelerator accelerator;
    private readonly PassBuffers buffers;
    private readonly Action<Index1D, ArrayView<TStore>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<TStore>,
        ArrayView<float>, ArrayView<float>, ArrayView<PassConstants<TFilter>>, ArrayView<int>, long, int> launch;
    private readonly MemoryBuffer1D<PassConstants<TFilter>, Stride1D.Dense> step;
    private readonly MemoryBuffer1D<int, Stride1D.Dense> skip;
    private readonly MemoryBuffer? gradients, estimates, sums, master, parameters, firstMoments, secondMoments;

    /// <summary>Compiles the pass for <paramref name="accelerator"/> (which stays the caller's) and wraps the buffers without copying.</summary>
    public IlgpuPass(IlgpuAccelerator accelerator, PassBuffers buffers)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        this.accelerator = accelerator;
        this.buffers = buffers;
        launch = accelerator.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<TStore>, ArrayView<float>, ArrayView<double>, ArrayView<float>,
            ArrayView<TStore>, ArrayView<float>, ArrayView<float>, ArrayView<PassConstants<TFilter>>, ArrayView<int>, long, int>(
            PassKernel<TStore, TFormat, TFilter, TUpdate>.Kernel);
        step = accelerator.Accelerator.Allocate1D<PassConstants<TFilter>>(1);
        skip = accelerator.Accelerator.Allocate1D<int>(1);
        skip.MemSetToZero();
        gradients = Wrap<TStore>(buffers.Gradients, buffers.Length);
        estimates = Wrap<float>(buffers.Estimates, buffers.Slots * buffers.Length);
        sums = Wrap<double>(buffers.Sums, buffers.Length);
        master = Wrap<float>(buffers.Master, buffers.Length);
        parameters = Wrap<TStore>(buffers.Parameters, buffers.Length);
        firstMoments = Wrap<float>(buffers.FirstMoments, buffers.Length);
        secondMoments = Wrap<float>(buffers.SecondMoments, buffers.Length);
    }

    /// <inheritdoc />
    public void Run(long offset, long length, PassConstants<TFilter> constants)
    {
        buffers.CheckRun(offset, length, constants.Filter);
        if (length == 0) return;
        step.View.CopyFromCPU(ref constants, 1);
        long ring = buffers.Slots * buffers.Length - offset;
        launch(accelerator.GridStrideThreads(length),
            View<TStore>(gradients, offset, length), View<float>(estimates, offset, ring), View<double>(sums, offset, length),
            View<float>(master, offset, length), View<TStore>(parameters, offset, length),
            View<float>(firstMoments, offset, length), View<float>(secondMoments, offset, length),
            step.View, skip.View, buffers.Length, buffers.AlignedAt(offset) ? 1 : 0);
        accelerator.Accelerator.Synchronize();
    }

    // The host memory at address as the accelerator's buffer of length elements, without copying; none where the pass has none.
    private MemoryBuffer? Wrap<T>(nint address, long length)
        where T : unmanaged => address == 0 || length == 0 ? null : accelerator.Wrap<T>(address, length);

    // Elements [offset, offset + length) of a wrapped buffer, or an empty view where the pass has none.
    private static ArrayView<T> View<T>(MemoryBuffer? buffer, long offset, long length)
        where T : unmanaged => buffer is null ? ArrayView<T>.Empty : buffer.AsArrayView<T>(offset, length);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (MemoryBuffer? buffer in new[] { gradients, estimates, sums, master, parameters, firstMoments, secondMoments }) buffer?.Dispose();
        step.Dispose();
        skip.Dispose();
    }
}
