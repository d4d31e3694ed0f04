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
    private nint master;
    private nint parameters;
    private nint firstMoments;
    private nint secondMoments;
    private long length = -1;
    private int windowSize;
    private readonly int gradientSize;
    private readonly bool withMaster;

    /// <summary>Compiles the kernels for the context's device and loads them; the context and <paramref name="steps"/> stay the caller's.</summary>
    public WindowedMeanAdamCudaKernel(CudaPrimaryContext context, CudaStepState steps)
        : this(context, steps, WindowedMeanAdamKernels.Kernel, sizeof(float), withMaster: false)
    {
    }

    /// <summary>
    /// As the other constructor, for the pass <paramref name="kernel"/> over gradients and parameters of
    /// <paramref name="gradientSize"/> bytes each. A 16-bit pass takes a view of the float32 master weights before the
    /// parameters: with <paramref name="withMaster"/> it updates them, without it gets an empty view it never touches.
    /// </summary>
    public WindowedMeanAdamCudaKernel(CudaPrimaryContext context, CudaStepState steps, Delegate kernel, int gradientSize, bool withMaster)
    {
        ArgumentNullException.ThrowIfNull(steps);
        this.gradientSize = gradientSize;
        this.withMaster = withMaster;
        pass = new CudaKernelModule(context, kernel);
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

    /// <summary>Bytes of each parameter of the pass after the thread count, as the PTX must declare them (a 16-bit pass: <paramref name="half"/>).</summary>
    internal static int[] ParameterSizes(bool half = false) => [.. Enumerable.Repeat(sizeof(DeviceView), half ? 9 : 8), sizeof(long)];

    /// <summary>Points the kernel at its buffers (the ring as the filter lays it out: <paramref name="windowSize"/> slots of <paramref name="length"/>); call again whenever any moves.</summary>
    public void Bind(nint gradients, nint ring, nint sums, nint parameters, nint firstMoments, nint secondMoments, long length, int windowSize) =>
        Bind(gradients, ring, sums, 0, parameters, firstMoments, secondMoments, length, windowSize);

    /// <summary>As the other overload, with the float32 master weights at <paramref name="master"/> (0 when the pass takes none).</summary>
    public void Bind(nint gradients, nint ring, nint sums, nint master, nint parameters, nint firstMoments, nint secondMoments, long length, int windowSize)
    {
        if (withMaster) ArgumentOutOfRangeException.ThrowIfZero(master);
        this.master = master;
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
        var g = new DeviceView(gradients + (nint)(run.Offset * gradientSize), run.Length);
        var window = new DeviceView(ring + (nint)(run.Offset * sizeof(float)), windowSize * length - run.Offset);
        var sum = new DeviceView(sums + (nint)(run.Offset * sizeof(double)), run.Length);
        DeviceView masters = withMaster ? new DeviceView(master + (nint)(run.Offset * sizeof(float)), run.Length) : default;
        var p = new DeviceView(parameters + (nint)(run.Offset * gradientSize), run.Length);
        var m = new DeviceView(firstMoments + (nint)(run.Offset * sizeof(float)), run.Length);
        var v = new DeviceView(secondMoments + (nint)(run.Offset * sizeof(float)), run.Length);
        long stride = length;
        if (TakesMaster)
            pass.Launch(run.Length, [(nint)(&g), (nint)(&window), (nint)(&sum), (nint)(&masters), (nint)(&p), (nint)(&m), (nint)(&v), (nint)(&slot), (nint)(&skip), (nint)(&stride)]);
        else
            pass.Launch(run.Length, [(nint)(&g), (nint)(&window), (nint)(&sum), (nint)(&p), (nint)(&m), (nint)(&v), (nint)(&slot), (nint)(&skip), (nint)(&stride)]);
    }

    // A 16-bit pass takes a master-weights view whether or not there are master weights.
    private bool TakesMaster => gradientSize != sizeof(float);

    /// <summary>Unloads both kernels and frees the constants' slots. Never throws.</summary>
    public void Dispose()
    {
        pass.Dispose();
        constants.Dispose();
    }
}
