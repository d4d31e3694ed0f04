using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>
/// Runs <see cref="WindowedMeanKernels"/>' ILGPU kernel on libtorch's device memory through the driver API: per run,
/// the prepare kernel derives the slot, scale and whether the step applies on the device, then one fused pass — on
/// libtorch's stream, with no synchronisation.
/// </summary>
public sealed unsafe class WindowedMeanCudaKernel : IDisposable
{
    private readonly CudaKernelModule pass;
    private readonly CudaStepConstants<WindowedMeanConstants, WindowedMeanSettings> constants;
    private nint gradients;
    private nint ring;
    private nint sums;
    private long length = -1;
    private int windowSize;
    private readonly int gradientSize;

    /// <summary>Compiles the kernels for the context's device and loads them; the context and <paramref name="steps"/> stay the caller's.</summary>
    public WindowedMeanCudaKernel(CudaPrimaryContext context, CudaStepState steps)
        : this(context, steps, WindowedMeanKernels.Kernel, sizeof(float))
    {
    }

    /// <summary>As the public constructor, for the pass <paramref name="kernel"/> over gradients of <paramref name="gradientSize"/> bytes each.</summary>
    internal WindowedMeanCudaKernel(CudaPrimaryContext context, CudaStepState steps, Delegate kernel, int gradientSize)
    {
        ArgumentNullException.ThrowIfNull(steps);
        this.gradientSize = gradientSize;
        pass = new CudaKernelModule(context, kernel);
        try
        {
            constants = new CudaStepConstants<WindowedMeanConstants, WindowedMeanSettings>(context, steps, WindowedMeanKernels.Prepare);
        }
        catch
        {
            pass.Dispose();
            throw;
        }
    }

    /// <summary>Bytes of each parameter of the pass after the thread count, as the PTX must declare them.</summary>
    internal static int[] ParameterSizes => [sizeof(DeviceView), sizeof(DeviceView), sizeof(DeviceView), sizeof(DeviceView), sizeof(DeviceView), sizeof(long)];

    /// <summary>Points the kernel at its buffers (see <see cref="IWindowedMeanKernel.Bind"/>); call again whenever any moves.</summary>
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

    /// <summary>Queues the step of <paramref name="run"/> on libtorch's stream; work queued after it there sees its writes.</summary>
    public void Filter(DeviceRun run, WindowedMeanSettings settings)
    {
        if (length < 0) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(run.Offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(run.Length, length - run.Offset);
        ArgumentOutOfRangeException.ThrowIfNotEqual(settings.WindowSize, windowSize);
        DeviceView slot = constants.Prepare(run, settings);
        if (run.Length == 0) return;
        DeviceView skip = constants.Skip;
        var g = new DeviceView(gradients + (nint)(run.Offset * gradientSize), run.Length);
        var window = new DeviceView(ring + (nint)(run.Offset * sizeof(float)), windowSize * length - run.Offset);
        var sum = new DeviceView(sums + (nint)(run.Offset * sizeof(double)), run.Length);
        long stride = length;
        pass.Launch(run.Length, [(nint)(&g), (nint)(&window), (nint)(&sum), (nint)(&slot), (nint)(&skip), (nint)(&stride)]);
    }

    /// <summary>Unloads both kernels and frees the constants' slots. Never throws.</summary>
    public void Dispose()
    {
        pass.Dispose();
        constants.Dispose();
    }
}
