using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Engine;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Optim;

/// <summary>
/// The "filter" of a fused optimizer built without one: no state, and each run is Adam's step alone. It still brings
/// what every filter shares — the flat gradient buffer, runs of parameters that have a gradient, per-parameter step
/// counts, the non-finite guard and checkpoints — so the optimizer has one code path with or without Grokfast.
/// </summary>
internal sealed class UnfilteredGradients : GradientFilter
{
    // Only made when fused: unfused, nothing runs.
    private GroupPasses<NoFilter, NoFilter>? passes;

    public UnfilteredGradients(Module module, KernelBackend backend, bool skipNonFinite)
        : base(module, backend, skipNonFinite, () => { })
    {
    }

    private protected override void FilterRun(ParameterRun run) => passes?.Run(run, default, FusedAdam);

    private protected override void FilterRunOnDevice(DeviceRun run, int group) => passes?.Run(run, group, default, FusedAdam);

    private protected override void Fused(FusedAdamPass adam)
    {
        passes = new GroupPasses<NoFilter, NoFilter>(Groups, Accelerator, CudaContext, DeviceSteps,
            (group, _) => PassBuffers.Filter(group.Address, 0, 0, group.Length, 0));
        passes.Fuse(adam);
    }

    internal override string Kind => "none";

    // Nothing moves unless fused into the optimizer.
    private protected override int BytesPerElementOf(GradientFormat format, PassUpdate update) =>
        update == PassUpdate.WriteBack ? 0 : Passes.BytesPerElement<NoFilter>(format, update);

    private protected override IReadOnlyDictionary<string, double> Hyperparameters => new Dictionary<string, double>();

    private protected override IReadOnlyDictionary<string, Tensor> StateTensors => new Dictionary<string, Tensor>();

    private protected override void DisposeState() => passes?.Dispose();
}
