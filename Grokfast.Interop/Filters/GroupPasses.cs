using Grokfast.Bridge;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Engine;
using Grokfast.Optim;

namespace Grokfast.Filters;

/// <summary>
/// A filter's passes, one per gradient group, on the filter's backend: bound to the group's gradients and its part of the
/// filter's state, writing the filtered gradient back — or, once the filter runs inside a fused optimizer, stepping Adam
/// on the optimizer's buffers too. The float64 group has passes of its own (null here).
/// </summary>
/// <typeparam name="TSettings">The filter's hyperparameters.</typeparam>
/// <typeparam name="TFilter">The filter's per-step constants.</typeparam>
internal sealed class GroupPasses<TSettings, TFilter> : IDisposable
    where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
    where TFilter : unmanaged, IFilterStep<TFilter>
{
    private readonly IReadOnlyList<GradientGroup> groups;
    private readonly Func<GradientGroup, int, PassBuffers> stateOf;
    private readonly IlgpuAccelerator? accelerator;
    private readonly CudaPrimaryContext? context;
    private readonly CudaStepState? steps;
    private IHostPass<TFilter>?[] host;
    private ICudaPass<TSettings>?[] cuda;

    /// <summary>
    /// Builds the write-back passes: on CUDA when <paramref name="steps"/> is given, else on the host (ILGPU's CPU
    /// accelerator when <paramref name="accelerator"/> is given). <paramref name="stateOf"/> gives group g's gradients and state.
    /// </summary>
    public GroupPasses(IReadOnlyList<GradientGroup> groups, IlgpuAccelerator? accelerator, CudaPrimaryContext? context, CudaStepState? steps,
        Func<GradientGroup, int, PassBuffers> stateOf)
    {
        this.groups = groups;
        this.stateOf = stateOf;
        this.accelerator = accelerator;
        this.context = context;
        this.steps = steps;
        host = new IHostPass<TFilter>?[groups.Count];
        cuda = new ICudaPass<TSettings>?[groups.Count];
        Bind(null);
    }

    /// <summary>Replaces every pass by one that steps Adam on <paramref name="adam"/>'s buffers after the filter.</summary>
    public void Fuse(FusedAdamPass adam) => Bind(adam);

    /// <summary>Runs <paramref name="run"/> on the host with the filter's constants <paramref name="filter"/> (and Adam's, when fused).</summary>
    public void Run(ParameterRun run, TFilter filter, FusedAdamPass? adam) =>
        host[run.Group]!.Run(run.Offset, run.Length, new PassConstants<TFilter>(filter, adam?.At(groups[run.Group].ParamGroup, run.UpdatesBefore + 1) ?? default));

    /// <summary>Queues the CUDA step of <paramref name="run"/> of group <paramref name="group"/>, its constants derived on the device.</summary>
    public void Run(DeviceRun run, int group, TSettings settings, FusedAdamPass? adam) =>
        cuda[group]!.Run(run, new PassSettings<TSettings>(settings, adam?.Settings[groups[group].ParamGroup] ?? default));

    // Each slot is filled in turn, so a failure part-way leaves the passes made so far for Dispose.
    private void Bind(FusedAdamPass? adam)
    {
        Dispose();
        for (int g = 0; g < groups.Count; g++)
        {
            GradientGroup group = groups[g];
            if (group.Format == GradientFormat.Float64) continue;
            PassBuffers buffers = stateOf(group, g);
            PassUpdate update = PassUpdate.WriteBack;
            if (adam is not null)
            {
                FusedAdamBuffers fused = adam.Buffers[g];
                buffers = buffers.WithAdam(fused.Master, fused.Parameters, fused.FirstMoments, fused.SecondMoments);
                update = fused.Master != 0 ? PassUpdate.AdamMaster : PassUpdate.AdamDirect;
            }
            if (steps is null) host[g] = Passes.CreateHost<TFilter>(accelerator, group.Format, update, buffers);
            else cuda[g] = Passes.CreateCuda<TSettings, TFilter>(context!, steps, group.Format, update, buffers);
        }
    }

    /// <summary>Releases every pass. Never throws.</summary>
    public void Dispose()
    {
        for (int g = 0; g < groups.Count; g++)
        {
            host[g]?.Dispose();
            cuda[g]?.Dispose();
            host[g] = null;
            cuda[g] = null;
        }
    }
}
