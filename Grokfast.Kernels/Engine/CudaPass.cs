using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Kernels.Engine;

/// <summary>A fused pass on libtorch's CUDA device, bound to its buffers in device memory.</summary>
/// <typeparam name="TSettings">The filter's hyperparameters, from which the device derives each step's constants.</typeparam>
public interface ICudaPass<TSettings> : IDisposable
    where TSettings : unmanaged
{
    /// <summary>Queues the step of <paramref name="run"/> on libtorch's stream; work queued after it there sees its writes.</summary>
    void Run(DeviceRun run, PassSettings<TSettings> settings);
}

/// <summary>
/// Runs the ILGPU pass and its prepare kernel on libtorch's device memory through the driver API: per run, the prepare
/// kernel derives the step's constants on the device into the run's slot, then one pass — two launches on libtorch's
/// stream, no copy and no synchronisation.
/// </summary>
internal sealed unsafe class CudaPass<TStore, TFormat, TSettings, TFilter, TUpdate> : ICudaPass<TSettings>
    where TStore : unmanaged
    where TFormat : struct, IGradientFormat<TStore>
    where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
    where TFilter : unmanaged, IFilterStep<TFilter>
    where TUpdate : struct, IPassUpdate
{
    private readonly OwnedResources owned = new();
    private readonly CudaStepState steps;
    private readonly PassBuffers buffers;
    private readonly CudaKernelModule pass;
    private readonly CudaKernelModule prepare;
    private readonly CudaDeviceMemory slots;

    /// <summary>Compiles both kernels for the context's device and loads them; the context and <paramref name="steps"/> stay the caller's.</summary>
    public CudaPass(CudaPrimaryContext context, CudaStepState steps, PassBuffers buffers)
    {
        ArgumentNullException.ThrowIfNull(steps);
        this.steps = steps;
        this.buffers = buffers;
        try
        {
            pass = owned.Own(new CudaKernelModule(context, PassKernel<TStore, TFormat, TFilter, TUpdate>.Kernel));
            prepare = owned.Own(new CudaKernelModule(context, PrepareKernel<TSettings, TFilter>.Kernel));
            // A run per parameter at most, each with its own slot of constants.
            slots = owned.Own(new CudaDeviceMemory(context, steps.Parameters, sizeof(PassConstants<TFilter>)));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Run(DeviceRun run, PassSettings<TSettings> settings)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(run.Offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(run.Length, buffers.Length - run.Offset);
        if (TFilter.KeepsEstimate) ArgumentOutOfRangeException.ThrowIfNotEqual(TSettings.Slots(settings.Filter), buffers.Slots, nameof(settings));
        var skip = new DeviceView(steps.SkipFlag, 1);
        (DeviceView counts, DeviceView covariances, DeviceView updates) = steps.Run(run.FirstParameter, run.EndParameter);
        // A pass without a filter (a fused optimizer's with the filter off) leaves the filter's counts as they are; only
        // an Adam pass counts updates.
        if (!TFilter.KeepsEstimate) (counts, covariances) = (default, default);
        if (!TUpdate.IsAdam) updates = default;
        DeviceView scale = TUpdate.IsAdam ? steps.GradientScale : default;
        var slot = new DeviceView(slots.Address + run.Slot * sizeof(PassConstants<TFilter>), 1);
        prepare.Launch(1, KernelArgument.Of(&skip), KernelArgument.Of(&counts), KernelArgument.Of(&covariances), KernelArgument.Of(&updates), KernelArgument.Of(&scale), KernelArgument.Of(&slot), KernelArgument.Of(&settings));
        if (run.Length == 0) return;
        DeviceView g = View<TStore>(buffers.Gradients, run), sums = View<double>(buffers.Sums, run), master = View<float>(buffers.Master, run);
        DeviceView p = View<TStore>(buffers.Parameters, run), m = View<float>(buffers.FirstMoments, run), v = View<float>(buffers.SecondMoments, run);
        var estimates = buffers.Estimates == 0 ? default : new DeviceView(buffers.Estimates + (nint)(run.Offset * sizeof(float)), buffers.Slots * buffers.Length - run.Offset);
        long stride = buffers.Length;
        int aligned = buffers.AlignedAt(run.Offset) ? 1 : 0;
        pass.Launch(run.Length, KernelArgument.Of(&g), KernelArgument.Of(&estimates), KernelArgument.Of(&sums), KernelArgument.Of(&master),
            KernelArgument.Of(&p), KernelArgument.Of(&m), KernelArgument.Of(&v), KernelArgument.Of(&slot), KernelArgument.Of(&skip),
            KernelArgument.Of(&stride), KernelArgument.Of(&aligned));
    }

    /// <summary>Unloads both kernels and frees the constants' slots. Never throws.</summary>
    public void Dispose() => owned.Dispose();

    // The run's elements of a stream, or an empty view where the pass has none.
    private static DeviceView View<T>(nint address, DeviceRun run)
        where T : unmanaged => address == 0 ? default : new DeviceView(address + (nint)(run.Offset * sizeof(T)), run.Length);
}
