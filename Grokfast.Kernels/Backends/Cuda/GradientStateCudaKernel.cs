using ILGPU;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// Runs a gradient-and-state ILGPU kernel (EMA, Kalman) on libtorch's device memory through the driver API:
/// one launch per step on libtorch's stream, no copy and no synchronisation.
/// </summary>
/// <typeparam name="TConstants">The filter's per-step scalars, passed by value to every thread.</typeparam>
public sealed unsafe class GradientStateCudaKernel<TConstants> : IGradientStateKernel<TConstants>
    where TConstants : unmanaged
{
    private readonly CudaKernelModule module;
    private nint gradients;
    private nint state;
    private long length = -1;

    /// <summary>Compiles <paramref name="kernel"/> for the context's device and loads it; the context stays the caller's.</summary>
    public GradientStateCudaKernel(CudaPrimaryContext context, Action<Index1D, ArrayView<float>, ArrayView<float>, TConstants> kernel)
    {
        module = new CudaKernelModule(context, kernel);
    }

    /// <summary>Bytes of each kernel parameter after the thread count, as the PTX must declare them.</summary>
    internal static int[] ParameterSizes => [sizeof(DeviceView), sizeof(DeviceView), sizeof(TConstants)];

    /// <inheritdoc />
    public void Bind(nint gradients, nint state, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = gradients;
        this.state = state;
        this.length = length;
    }

    /// <inheritdoc />
    /// <remarks>Returns once the pass is queued on libtorch's stream; work queued after it there sees its writes.</remarks>
    public void Filter(long offset, long length, TConstants constants)
    {
        if (this.length < 0) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, this.length - offset);
        if (length == 0) return;
        var g = new DeviceView(gradients + (nint)(offset * sizeof(float)), length);
        var s = new DeviceView(state + (nint)(offset * sizeof(float)), length);
        module.Launch(length, [(nint)(&g), (nint)(&s), (nint)(&constants)]);
    }

    /// <inheritdoc />
    public void Dispose() => module.Dispose();
}
