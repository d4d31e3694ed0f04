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
    private readonly List<MemoryBuffer> wrapped = [];

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
    }

    /// <inheritdoc />
    public void Run(long offset, long length, PassConstants<TFilter> constants)
    {
        buffers.CheckRun(offset, length, constants.Filter);
        if (length == 0) return;
        step.View.CopyFromCPU(ref constants, 1);
        long ring = buffers.Slots * buffers.Length - offset;
        launch(accelerator.GridStrideThreads(length),
            View<TStore>(buffers.Gradients, offset, length), View<float>(buffers.Estimates, offset, ring), View<double>(buffers.Sums, offset, length),
            View<float>(buffers.Master, offset, length), View<TStore>(buffers.Parameters, offset, length),
            View<float>(buffers.FirstMoments, offset, length), View<float>(buffers.SecondMoments, offset, length),
            step.View, skip.View, buffers.Length, buffers.AlignedAt(offset) ? 1 : 0);
        accelerator.Accelerator.Synchronize();
        ReleaseViews();
    }

    // A view of elements [offset, offset + length) of the buffer at address, or an empty view where the pass has none.
    private ArrayView<T> View<T>(nint address, long offset, long length)
        where T : unmanaged
    {
        if (address == 0) return ArrayView<T>.Empty;
        MemoryBuffer buffer = accelerator.Wrap<T>(address, offset + length);
        wrapped.Add(buffer);
        return buffer.AsArrayView<T>(offset, length);
    }

    private void ReleaseViews()
    {
        foreach (MemoryBuffer buffer in wrapped) buffer.Dispose();
        wrapped.Clear();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        ReleaseViews();
        step.Dispose();
        skip.Dispose();
    }
}
