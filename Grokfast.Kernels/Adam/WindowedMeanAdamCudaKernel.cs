using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.WindowedMean;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// Runs <see cref="WindowedMeanAdamKernels"/>' ILGPU kernel on libtorch's device memory through the driver API: per run,
/// the prepare kernel derives the window's slot, scale and whether it applies, and Adam's constants, on the device;
/// then one pass — on libtorch's stream, with no synchronisation.
/// </summary>
internal sealed unsafe class WindowedMeanAdamCudaKernel : IDisposable
{
    private readonly CudaKernelModule pass;
    private readonly CudaStepConstants<FusedAdamConstants<WindowedMeanConstants>, FusedAdamSettings<WindowedMeanSettings>> constants;
    private nint gradients;
    private nint ring;
    private nint sums;
    private nint parameters;
    private nint firstMoments;
    private nint secondMoments;
    private long length = -1;
    private int windowSize;

    /// <summary>Compiles the kernels for the context's device and loads them; the context and <paramref name="steps"/> stay the caller's.</summary>
    public WindowedMeanAdamCudaKernel(CudaPrimaryContext context, CudaStepState steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        pass = new CudaKernelModule(context, WindowedMeanAdamKernels.Kernel);
        try
        {
            constants = new(context, steps, WindowedMeanAdamKernels.Prepare);
        }
        catch
        {
            pass.Dispose();
            throw;
        }
    }

    /// <summary>Bytes of each parameter of the pass after the thread count, as the PTX must declare them.</summary>
    internal static int[] ParameterSizes => [.. Enumerable.Repeat(sizeof(DeviceView), 8), sizeof(long)];

    /// <summary>Points the kernel at its buffers (the ring as the filter lays it out: <paramref name="windowSize"/> slots of <paramref name="length"/>); call again whenever any moves.</summary>
    public void Bind(nint gradients, nint ring, nint sums, nint parameters, nint firstMoments, nint secondMoments, long length, int windowSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        this.gradients = gradients;
        this.ring = ring;
        this.sums = sums;
        this.parameters = parameters;
        this.firstMoments = firstMoments;
        this.secondMoments = secondMoments;
        this.length = length;
        this.windowSize = windowSize;
    }

    /// <summary>Queues the step of <paramref name="run"/> on libtorch's stream; work queued after it there sees its writes.</summary>
    public void Step(DeviceRun run, FusedAdamSettings<WindowedMeanSettings> settings)
    {
        if (length < 0) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(run.Offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(run.Length, length - run.Offset);
        ArgumentOutOfRangeException.ThrowIfNotEqual(settings.Filter.WindowSize, windowSize);
        DeviceView slot = constants.Prepare(run, settings);
        if (run.Length == 0) return;
        DeviceView skip = constants.Skip;
        var g = new DeviceView(gradients + (nint)(run.Offset * sizeof(float)), run.Length);
        var window = new DeviceView(ring + (nint)(run.Offset * sizeof(float)), windowSize * length - run.Offset);
        var sum = new DeviceView(sums + (nint)(run.Offset * sizeof(double)), run.Length);
        var p = new DeviceView(parameters + (nint)(run.Offset * sizeof(float)), run.Length);
        var m = new DeviceView(firstMoments + (nint)(run.Offset * sizeof(float)), run.Length);
        var v = new DeviceView(secondMoments + (nint)(run.Offset * sizeof(float)), run.Length);
        long stride = length;
        pass.Launch(run.Length, [(nint)(&g), (nint)(&window), (nint)(&sum), (nint)(&p), (nint)(&m), (nint)(&v), (nint)(&slot), (nint)(&skip), (nint)(&stride)]);
    }

    /// <summary>Unloads both kernels and frees the constants' slots. Never throws.</summary>
    public void Dispose()
    {
        pass.Dispose();
        constants.Dispose();
    }
}
