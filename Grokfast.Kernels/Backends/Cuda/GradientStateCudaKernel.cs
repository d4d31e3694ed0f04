using ILGPU;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// Runs a gradient-and-state ILGPU kernel (EMA, Kalman) on libtorch's device memory through the driver API: per run,
/// the prepare kernel derives the step's constants on the device, then one fused pass — two launches on libtorch's
/// stream, no copy and no synchronisation.
/// </summary>
/// <typeparam name="TConstants">The filter's per-step constants.</typeparam>
/// <typeparam name="TSettings">The filter's hyperparameters.</typeparam>
public sealed unsafe class GradientStateCudaKernel<TConstants, TSettings> : IDisposable
    where TConstants : unmanaged
    where TSettings : unmanaged
{
    private readonly CudaKernelModule pass;
    private readonly CudaStepConstants<TConstants, TSettings> constants;
    private readonly int gradientSize;
    private nint gradients;
    private nint state;
    private long length = -1;

    /// <summary>Compiles the pass and its prepare kernel for the context's device and loads them; the context and <paramref name="steps"/> stay the caller's.</summary>
    public GradientStateCudaKernel(CudaPrimaryContext context, CudaStepState steps,
        Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<TConstants>, ArrayView<int>> kernel,
        Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<TConstants>, TSettings> prepare)
        : this(context, steps, (Delegate)kernel, sizeof(float), prepare)
    {
    }

    /// <summary>
    /// As the public constructor, for a pass over gradients of <paramref name="gradientSize"/> bytes each (16-bit
    /// gradients: the kernel's first view is of their bit patterns).
    /// </summary>
    internal GradientStateCudaKernel(CudaPrimaryContext context, CudaStepState steps, Delegate kernel, int gradientSize,
        Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<TConstants>, TSettings> prepare)
    {
        ArgumentNullException.ThrowIfNull(steps);
        this.gradientSize = gradientSize;
        pass = new CudaKernelModule(context, kernel);
        try
        {
            constants = new CudaStepConstants<TConstants, TSettings>(context, steps, prepare);
        }
        catch
        {
            pass.Dispose();
            throw;
        }
    }

    /// <summary>Bytes of each parameter of the pass after the thread count, as the PTX must declare them.</summary>
    internal static int[] ParameterSizes => [sizeof(DeviceView), sizeof(DeviceView), sizeof(DeviceView), sizeof(DeviceView)];

    /// <summary>Points the kernel at the buffers; call again whenever either moves.</summary>
    public void Bind(nint gradients, nint state, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = gradients;
        this.state = state;
        this.length = length;
    }

    /// <summary>Queues the step of <paramref name="run"/> on libtorch's stream; work queued after it there sees its writes.</summary>
    public void Filter(DeviceRun run, TSettings settings)
    {
        if (length < 0) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(run.Offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(run.Length, length - run.Offset);
        DeviceView slot = constants.Prepare(run, settings);
        if (run.Length == 0) return;
        DeviceView skip = constants.Skip;
        var g = new DeviceView(gradients + (nint)(run.Offset * gradientSize), run.Length);
        var s = new DeviceView(state + (nint)(run.Offset * sizeof(float)), run.Length);
        pass.Launch(run.Length, [(nint)(&g), (nint)(&s), (nint)(&slot), (nint)(&skip)]);
    }

    /// <summary>Unloads both kernels and frees the constants' slots. Never throws.</summary>
    public void Dispose()
    {
        pass.Dispose();
        constants.Dispose();
    }
}
