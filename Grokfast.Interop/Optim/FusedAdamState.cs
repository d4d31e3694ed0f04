using Grokfast.Bridge;
using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Distributed;
using Grokfast.Kernels.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Optim;

/// <summary>
/// A fused optimizer's buffers and passes for one set of parameter groups: the steps (flat gradients, backend,
/// bookkeeping, guard), the flat parameter buffers, the moments and master weights, the filter's state, and the passes
/// that step a run with the filter or without it. <see cref="FusedAdamOptimizer.add_param_group"/> builds a new one
/// and carries this one's state over.
/// </summary>
internal sealed class FusedAdamState : IDisposable
{
    private readonly FlatParameterBuffer?[] parameterBuffers = [];
    private readonly long[] masterOffsets = [];
    private readonly GroupPasses<NoFilter, NoFilter>? plain;

    /// <summary>
    /// Lays out <paramref name="named"/> (one list per parameter group) and builds everything a step needs; what was built
    /// is released if a later part fails.
    /// </summary>
    public FusedAdamState(IReadOnlyList<IReadOnlyList<(string Name, Parameter Parameter)>> named, Module? module, GrokfastFilter? grokfast,
        KernelBackend backend, bool skipNonFinite, bool masterWeights, ICommunicator? shardOver = null)
    {
        var gradients = new FlatGradientBuffer(named, module);
        Steps = new GradientSteps(gradients, backend, skipNonFinite, clipping: true, shardOver);
        try
        {
            IReadOnlyList<GradientGroup> groups = Steps.Groups;
            if (groups.FirstOrDefault(g => g.Format == GradientFormat.Float64) is { } float64)
                throw new NotSupportedException($"Parameter '{Steps.Parameters[float64.First].Name}' is Float64; the fused optimizers take float32, bfloat16 and float16 parameters (the filters take float64 too).");
            Device device = gradients.Device;
            // The 16-bit groups' float32 master weights, one after another in layout order.
            masterOffsets = [.. Enumerable.Range(0, groups.Count).Select(g => MasterStart(groups, g))];
            long masterLength = masterWeights ? MasterStart(groups, groups.Count) : 0;
            if (masterLength > 0) master_weights = torch.empty(masterLength, ScalarType.Float32, device);
            // The parameters are whole on every rank; the passes step (and the state covers) this rank's blocks when sharded.
            parameterBuffers = new FlatParameterBuffer?[groups.Count];
            for (int g = 0; g < groups.Count; g++)
                parameterBuffers[g] = new FlatParameterBuffer(Steps.Parameters, gradients.Groups[g], device, MasterOf(g), Steps.Shards?.Start(g) ?? 0);
            exp_avg = torch.zeros(Steps.ElementCount, ScalarType.Float32, device);
            exp_avg_sq = torch.zeros(Steps.ElementCount, ScalarType.Float32, device);
            nint firstMoments = TensorAddress.OfFloat32(exp_avg), secondMoments = TensorAddress.OfFloat32(exp_avg_sq);
            FusedAdamBuffers[] buffers = groups.Select((group, g) => new FusedAdamBuffers(ParametersOf(g), MasterAddress(g),
                firstMoments + (nint)(group.Base * sizeof(float)), secondMoments + (nint)(group.Base * sizeof(float)))).ToArray();
            Pass = new FusedAdamPass(buffers, new Kernels.Adam.AdamSettings[named.Count], Steps.Clipping!);
            plain = new GroupPasses<NoFilter, NoFilter>(groups, Steps.Accelerator, Steps.CudaContext, Steps.DeviceSteps,
                (group, _) => PassBuffers.Filter(group.Address, 0, 0, group.Length, 0));
            plain.Fuse(Pass);
            Filter = grokfast?.Create(Steps);
            Filter?.Fuse(Pass);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The flat gradients, backend, bookkeeping and guard.</summary>
    public GradientSteps Steps { get; }

    /// <summary>The filter, on <see cref="Steps"/>, or null for plain Adam.</summary>
    public GradientFilter? Filter { get; }

    /// <summary>The buffers and each parameter group's settings every Adam pass reads.</summary>
    public FusedAdamPass Pass { get; } = null!;

    /// <summary>Adam's first moments, flat in layout order.</summary>
    public Tensor? exp_avg { get; }

    /// <summary>Adam's second moments.</summary>
    public Tensor? exp_avg_sq { get; }

    /// <summary>The 16-bit parameters' float32 masters, or null.</summary>
    public Tensor? master_weights { get; }

    /// <summary>Bytes a step moves per element (see <see cref="FusedAdamOptimizer.BytesPerElement"/>), averaged over the groups.</summary>
    public int BytesPerElement(bool masterWeights, bool scanned) => Filter?.FusedAdamBytesPerElement(masterWeights, scanned)
        ?? Steps.AverageBytesPerElement(g => Passes.BytesPerElement<NoFilter>(g.Format, g.Format != GradientFormat.Float32 && masterWeights ? PassUpdate.AdamMaster : PassUpdate.AdamDirect),
            scanned);

    /// <summary>
    /// After a sharded step: every rank's updated block of the parameters gathered into every rank's copy, so the
    /// parameters are whole and alike again. Nothing without sharding.
    /// </summary>
    public void GatherParameters()
    {
        if (Steps.Shards is not { } shards) return;
        for (int g = 0; g < parameterBuffers.Length; g++)
            Steps.ShardRanks!.AllGatherInPlace(parameterBuffers[g]!.Address, shards.Counts(g), shards.Full[g].Format);
    }

    /// <summary>Refreshes the parameters' views before a step.</summary>
    public void RefreshParameters()
    {
        foreach (FlatParameterBuffer? buffer in parameterBuffers) buffer!.Refresh();
    }

    /// <summary>Steps <paramref name="run"/> on the host: with the filter at amplification <paramref name="lamb"/>, or Adam alone when <paramref name="filtered"/> is false.</summary>
    public void Run(ParameterRun run, bool filtered, double lamb)
    {
        if (filtered) Filter!.FilterRun(run, lamb);
        else plain!.Run(run, default, Pass);
    }

    /// <summary>Queues the CUDA step of <paramref name="run"/> of gradient group <paramref name="group"/>, as <see cref="Run(ParameterRun, bool, double)"/>.</summary>
    public void Run(DeviceRun run, int group, bool filtered, double lamb)
    {
        if (filtered) Filter!.FilterRunOnDevice(run, group, lamb);
        else plain!.Run(run, group, default, Pass);
    }

    /// <summary>
    /// What a checkpoint holds besides the filter's: the moments, the masters and each parameter's steps updated.
    /// </summary>
    public List<StateBuffer> OwnStateBuffers
    {
        get
        {
            var buffers = new List<StateBuffer>
            {
                Steps.StateBufferOf(nameof(exp_avg), exp_avg!),
                Steps.StateBufferOf(nameof(exp_avg_sq), exp_avg_sq!),
                new HostStateBuffer<long>(UpdatesBuffer, Steps.Book.Updates),
            };
            if (master_weights is not null) buffers.Add(Steps.StateBufferOf(nameof(master_weights), master_weights, MasteredGroups));
            return buffers;
        }
    }

    /// <summary>Every buffer a checkpoint holds: the filter's, then the optimizer's own.</summary>
    public List<StateBuffer> StateBuffers => [.. Filter?.StateBuffers ?? [], .. OwnStateBuffers];

    /// <summary>
    /// Carries <paramref name="before"/>'s state over, bit for bit: this state's layout is <paramref name="before"/>'s with
    /// parameter groups appended, so each of its buffers begins with the same buffer of <paramref name="before"/>, and
    /// its first parameters are <paramref name="before"/>'s. The appended groups' state stays as built.
    /// </summary>
    public void ContinueFrom(FusedAdamState before)
    {
        before.Filter?.BeforeStateSaved();
        Dictionary<string, StateBuffer> earlier = before.StateBuffers.ToDictionary(b => b.Name);
        foreach (StateBuffer buffer in StateBuffers) buffer.CopyPrefixFrom(earlier[buffer.Name]);
        Steps.Book.ContinueFrom(before.Steps.Book);
        Filter?.AfterStateLoaded();
        Steps.SkipNonFinite = before.Steps.SkipNonFinite;
        Steps.Communicator = before.Steps.Communicator;
        Steps.Clipping!.ContinueFrom(before.Steps.Clipping!);
    }

    /// <summary>The buffer of each parameter's steps updated.</summary>
    public const string UpdatesBuffer = "steps_updated";

    /// <summary>Rounds every 16-bit parameter from its float32 master, just loaded (sharded: each rank its block, then gathered).</summary>
    public void RestoreParametersFromMasters()
    {
        using (torch.no_grad())
        {
            foreach (int g in MasteredGroups)
            {
                using Tensor master = MasterOf(g)!, parameters = parameterBuffers[g]!.Tensor.narrow(0, Steps.Shards?.Start(g) ?? 0, master.numel());
                parameters.copy_(master);
            }
        }
        GatherParameters();
    }

    /// <summary>Frees the moments, the filter and the buffers; the parameters keep their values and gradients. Never throws.</summary>
    public void Dispose()
    {
        Filter?.Dispose();
        plain?.Dispose();
        exp_avg?.Dispose();
        exp_avg_sq?.Dispose();
        master_weights?.Dispose();
        // The parameters stay views of the flat buffers: they keep their storage alive through their own references.
        foreach (FlatParameterBuffer? buffer in parameterBuffers) buffer?.Dispose();
        Steps?.Dispose();
    }

    /// <summary>Views of <paramref name="p"/>'s moments and master weight (null where it has none), shaped like it; the caller disposes them.</summary>
    public (Tensor ExpAvg, Tensor ExpAvgSq, Tensor? Master) ParameterViews(TrainableParameter p) =>
        ParameterViews(p, exp_avg!, exp_avg_sq!, master_weights, Steps.Groups);

    /// <summary>
    /// As <see cref="ParameterViews(TrainableParameter)"/>, into moments and masters laid out over <paramref name="groups"/>
    /// (this state's, or the whole buffers of a sharded state's unsharded layout).
    /// </summary>
    public static (Tensor ExpAvg, Tensor ExpAvgSq, Tensor? Master) ParameterViews(TrainableParameter p, Tensor expAvg, Tensor expAvgSq, Tensor? masters,
        IReadOnlyList<GradientGroup> groups)
    {
        Tensor? master = null;
        if (masters is not null && groups[p.Group].Format != GradientFormat.Float32)
        {
            using Tensor part = masters.narrow(0, MasterStart(groups, p.Group) + p.Offset - groups[p.Group].Base, p.Length);
            master = part.view(p.Shape);
        }
        using Tensor m = expAvg.narrow(0, p.Offset, p.Length), v = expAvgSq.narrow(0, p.Offset, p.Length);
        return (m.view(p.Shape), v.view(p.Shape), master);
    }

    // Where group g's masters start among the 16-bit groups' masters, which lie one after another in layout order.
    private static long MasterStart(IReadOnlyList<GradientGroup> groups, int g) =>
        groups.Take(g).Where(group => group.Format != GradientFormat.Float32).Sum(group => group.Length);

    // The groups with master weights, whose slices are laid out one after another.
    private int[] MasteredGroups => master_weights is null ? [] : [.. Enumerable.Range(0, Steps.Groups.Count).Where(g => Steps.Groups[g].Format != GradientFormat.Float32)];

    /// <summary>Group <paramref name="g"/>'s slice of the master weights, or null where it has none (float32, or master weights off).</summary>
    private Tensor? MasterOf(int g) =>
        master_weights is not null && Steps.Groups[g].Format != GradientFormat.Float32 ? master_weights.narrow(0, masterOffsets[g], Steps.Groups[g].Length) : null;

    // Where group g's pass finds its parameters: the buffer's start, or this rank's block of it.
    private nint ParametersOf(int g) =>
        parameterBuffers[g]!.Address + (nint)((Steps.Shards?.Start(g) ?? 0) * Steps.Groups[g].Format.ElementSize());

    private nint MasterAddress(int g) =>
        master_weights is not null && Steps.Groups[g].Format != GradientFormat.Float32 ? TensorAddress.OfFloat32(master_weights) + (nint)(masterOffsets[g] * sizeof(float)) : 0;
}
