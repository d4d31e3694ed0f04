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
    private protected override void FilterRun(ParameterRun run) =>
        FusedAdam?.Kernel.Step(run.Offset, run.Length, FusedAdam.At(run.StepsBefore + 1));

    private protected override void FilterRunOnDevice(DeviceRun run) =>
        throw new NotSupportedException("The fused optimizer runs on the CPU in this release.");

    internal override string Kind => "none";

    internal override int FusedAdamBytesPerElement => AdamKernels.BytesPerElement;

    private protected override IReadOnlyDictionary<string, double> Hyperparameters => new Dictionary<string, double>();

    private protected override IReadOnlyDictionary<string, Tensor> StateTensors => new Dictionary<string, Tensor>();

    private protected override void DisposeState()
    {
        // No state of its own.
    }
}
