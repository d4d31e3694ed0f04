using Grokfast.Filters;
using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Optim;

/// <summary>
/// The "filter" of a fused optimizer built without one: no state, and each run is Adam's step alone. It still brings
/// what every filter shares — the flat gradient buffer, runs of parameters that have a gradient, per-parameter step
/// counts, the non-finite guard and checkpoints — so the optimizer has one code path with or without Grokfast.
/// </summary>
internal sealed class UnfilteredGradients(Module module, KernelBackend backend, bool skipNonFinite)
    : GradientFilter(module, backend, skipNonFinite, () => { })
{
    private FusedAdamCudaKernel<AdamConstants, AdamSettings>[]? cudaKernels;

    // Without a fused optimizer there is nothing to do: the gradients pass through.
    private protected override void FilterRun(ParameterRun run) =>
        FusedAdam?.Kernels![run.Group].Step(run.Offset, run.Length, FusedAdam.At(run.StepsBefore + 1));

    private protected override void FilterRunOnDevice(DeviceRun run, int group)
    {
        if (FusedAdam is { } adam) cudaKernels![group].Step(run, adam.Settings);
    }

    private protected override void BindFusedCuda(FusedAdamPass adam) =>
        CreatePerGroup(cudaKernels = new FusedAdamCudaKernel<AdamConstants, AdamSettings>[Groups.Count], (group, g) =>
        {
            FusedAdamBuffers buffers = adam.Buffers[g];
            FusedAdamCudaKernel<AdamConstants, AdamSettings> kernel = AdamKernels.CreateCuda(CudaContext!, DeviceSteps!, group.Format, withMaster: buffers.Master != 0);
            kernel.Bind(group.Address, 0, buffers.Master, buffers.Parameters, buffers.FirstMoments, buffers.SecondMoments, group.Length);
            return kernel;
        });

    internal override string Kind => "none";

    // Nothing moves unless fused into the optimizer.
    private protected override int BytesPerElementOf(GradientFormat format) => 0;

    internal override int FusedAdamBytesPerElement => AdamKernels.BytesPerElement;

    private protected override IReadOnlyDictionary<string, double> Hyperparameters => new Dictionary<string, double>();

    private protected override IReadOnlyDictionary<string, Tensor> StateTensors => new Dictionary<string, Tensor>();

    private protected override void DisposeState()
    {
        foreach (IDisposable? kernel in cudaKernels ?? []) kernel?.Dispose();
    }
}
