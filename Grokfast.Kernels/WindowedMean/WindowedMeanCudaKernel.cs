using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>
/// Runs <see cref="WindowedMeanKernels"/>' ILGPU kernel on libtorch's device memory through the driver API:
/// one launch per step, on the ring slot it writes, on libtorch's stream, with no synchronisation.
/// </summary>
public sealed unsafe class WindowedMeanCudaKernel : IWindowedMeanKernel
{
    private readonly CudaKernelModule module;
    private nint gradients;
    private nint ring;
    private nint sums;
    private long length = -1;
    private int windowSize;

    /// <summary>Compiles the kernel for the context's device and loads it; the context stays the caller's.</summary>
    public WindowedMeanCudaKernel(CudaPrimaryContext context)
    {
        module = new CudaKernelModule(context, WindowedMeanKernels.Kernel);
    }

    /// <summary>Bytes of each kernel parameter after the thread count, as the PTX must declare them.</summary>
    internal static int[] ParameterSizes => [sizeof(DeviceView), sizeof(DeviceView), sizeof(DeviceView), sizeof(WindowedMeanConstants)];

    /// <inheritdoc />
    public void Bind(nint gradients, nint ring, nint sums, long length, int windowSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        this.gradients = gradients;
        this.ring = ring;
        this.sums = sums;
        this.length = length;
        this.windowSize = windowSize;
    }

    /// <inheritdoc />
    /// <remarks>Returns once the pass is queued on libtorch's stream; work queued after it there sees its writes.</remarks>
    public void Filter(long offset, long length, WindowedMeanConstants constants)
    {
        if (this.length < 0) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, this.length - offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(constants.Slot, windowSize);
        if (length == 0) return;
        var g = new DeviceView(gradients + (nint)(offset * sizeof(float)), length);
        var slot = new DeviceView(ring + (nint)((constants.Slot * this.length + offset) * sizeof(float)), length);
        var sum = new DeviceView(sums + (nint)(offset * sizeof(double)), length);
        module.Launch(length, [(nint)(&g), (nint)(&slot), (nint)(&sum), (nint)(&constants)]);
    }

    /// <inheritdoc />
    public void Dispose() => module.Dispose();
}
