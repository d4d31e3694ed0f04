using ILGPU;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// A filter's prepare kernel on CUDA and the device slots it writes: per run, one thread derives the step's constants
/// from the run's step count (and covariance) and advances them, unless the step's skip flag is set. The constants
/// never reach the host, so the host never waits for the scan that decides whether the step runs.
/// </summary>
/// <typeparam name="TConstants">The filter's per-step constants, written to the slot.</typeparam>
/// <typeparam name="TSettings">The filter's hyperparameters, passed by value.</typeparam>
internal sealed unsafe class CudaStepConstants<TConstants, TSettings> : IDisposable
    where TConstants : unmanaged
    where TSettings : unmanaged
{
    private readonly CudaStepState state;
    private readonly CudaKernelModule prepare;
    private readonly CudaDeviceMemory slots;

    public CudaStepConstants(CudaPrimaryContext context, CudaStepState state,
        Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<TConstants>, TSettings> prepare)
    {
        this.state = state;
        this.prepare = new CudaKernelModule(context, prepare);
        try
        {
            // A run per parameter at most.
            slots = new CudaDeviceMemory(context, state.Parameters, sizeof(TConstants));
        }
        catch
        {
            this.prepare.Dispose();
            throw;
        }
    }

    /// <summary>Bytes of each parameter of a prepare kernel after the thread count, as the PTX must declare them.</summary>
    internal static int[] ParameterSizes => [sizeof(DeviceView), sizeof(DeviceView), sizeof(DeviceView), sizeof(DeviceView), sizeof(TSettings)];

    /// <summary>The skip flag's view, for the pass that follows.</summary>
    public DeviceView Skip => new(state.SkipFlag, 1);

    /// <summary>Queues the prepare kernel for <paramref name="run"/>; returns the view of its constants' slot.</summary>
    public DeviceView Prepare(DeviceRun run, TSettings settings)
    {
        DeviceView skip = Skip;
        (DeviceView steps, DeviceView covariances) = state.Run(run.FirstParameter, run.EndParameter);
        var slot = new DeviceView(slots.Address + run.Slot * sizeof(TConstants), 1);
        prepare.Launch(1, [(nint)(&skip), (nint)(&steps), (nint)(&covariances), (nint)(&slot), (nint)(&settings)]);
        return slot;
    }

    public void Dispose()
    {
        prepare.Dispose();
        slots.Dispose();
    }
}
