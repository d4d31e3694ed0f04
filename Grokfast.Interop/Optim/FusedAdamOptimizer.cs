using Grokfast.Bridge;
using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

/// <summary>
/// Adam or AdamW with an optional Grokfast filter, fused: one pass over every parameter per step reads the gradient, the
/// filter's state, the parameter and both moments once and writes all but the gradient once. Gradients and parameters
/// are views of flat buffers laid out alike, so the pass is one elementwise sweep per parameter group and dtype.
/// </summary>
/// <remarks>
/// <para>A TorchSharp optimizer: <see cref="step"/>, <see cref="zero_grad"/>, parameter groups (<see cref="param_groups"/>)
/// with their own learning rate, betas, eps, weight decay and Grokfast amplification, which learning-rate schedulers drive
/// group by group; <see cref="IBetas"/> on the optimizer and on each group for schedulers that cycle momentum;
/// <see cref="add_param_group"/>; TorchSharp's <c>state_dict</c> shape (<see cref="ParameterState"/>); fused gradient
/// clipping (<see cref="max_grad_norm"/>); data-parallel training over MPI (<see cref="communicator"/>, or ZeRO-1 with
/// <see cref="shard_over"/>).</para>
/// <para>After a step <c>p.grad</c> still holds the raw gradient: the filtered one goes straight into the update and is
/// not written back. A step whose gradients hold a NaN or ±Inf is skipped whole — parameters, moments, the filter's
/// state and the step counts untouched — and reported by <see cref="LastStepSkipped"/>.</para>
/// <para>Runs where the parameters are: on the CPU, the vectorised, multi-threaded twin of the ILGPU kernels; on CUDA, the
/// ILGPU kernels through the driver, each step's constants derived on the device so a step never waits for the GPU.</para>
/// </remarks>
public abstract partial class FusedAdamOptimizer : OptimizerHelper, IBetas, ICheckpointable, IRunStepper
{
    private readonly List<ParamGroup> groups;
    private readonly bool decoupled;
    // The options a group added later completes from, and the parameters' names group by group.
    private readonly Options defaults;
    private IReadOnlyList<IReadOnlyList<(string Name, Parameter Parameter)>> names;
    private Module? module;
    private FusedAdamState core;
    // With sharded state, the gathered copies state_dict()'s states are views of: made by the first state_dict(),
    // gathered again by each later one, ended when the buffers are laid out again.
    private ShardedStateSnapshot? snapshot;
    // Per parameter group, this step: whether the filter runs, and at which amplification.
    private bool[] filtering;
    private double[] lambs;
    private long stepCalls;
    private bool disposed;

    /// <summary>
    /// Completes each group's options from the optimizer's and checks them, then builds the flat buffers, the moments and
    /// the filter (released again if a later part fails).
    /// </summary>
    private protected FusedAdamOptimizer(GroupSource source, double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled,
        GrokfastFilter? grokfast, KernelBackend backend, bool skip_non_finite, bool master_weights, long grokfast_after_step, bool normalize_lr)
    {
        Validate(lr, beta1, beta2, eps, weight_decay);
        ArgumentOutOfRangeException.ThrowIfNegative(grokfast_after_step);
        if (!Enum.IsDefined(backend))
            throw new ArgumentOutOfRangeException(nameof(backend), backend, "Unknown backend.");
        this.decoupled = decoupled;
        this.grokfast = grokfast;
        this.grokfast_after_step = grokfast_after_step;
        this.normalize_lr = normalize_lr;
        MasterWeights = master_weights;
        groups = [.. source.Groups];
        (names, module) = (source.Names, source.Module);
        defaults = new Options { LearningRate = lr, beta1 = beta1, beta2 = beta2, eps = eps, weight_decay = weight_decay };
        for (int g = 0; g < groups.Count; g++) Complete(groups[g], g, defaults);
        _parameter_groups = [.. groups];
        filtering = new bool[groups.Count];
        lambs = new double[groups.Count];
        core = new FusedAdamState(source.Names, source.Module, grokfast, backend, skip_non_finite, master_weights);
        _defaults = defaults;
        BindStates();
    }

    /// <summary>
    /// Whether bfloat16 and float16 parameters are updated through float32 master weights kept in the optimizer's state
    /// (the 16-bit parameter written rounded from its master after each step, so updates smaller than half an ulp still
    /// accumulate), or updated directly with float32 arithmetic. No effect on float32 parameters.
    /// </summary>
    public bool MasterWeights { get; }

    /// <summary>The filter that runs inside the step, or null for a plain fused Adam/AdamW.</summary>
    public GrokfastFilter? grokfast { get; }

    /// <summary>The parameter groups, in order: each one's options can be changed between steps.</summary>
    public IReadOnlyList<ParamGroup> param_groups => groups;

    /// <summary>
    /// Steps (calls of <see cref="step"/>) before the filter first runs: until then each step is Adam's alone and the
    /// filter's state stays as it was built, so the filter starts then as a filter created at that step would.
    /// </summary>
    public long grokfast_after_step { get; set; }

    /// <summary>
    /// Whether each group's learning rate was divided by 1 + its lamb when the group was added (lucidrains' grokfast-pytorch:
    /// the filter scales the gradient by about that much, so comparisons with plain Adam stay fair).
    /// </summary>
    public bool normalize_lr { get; }

    /// <summary>Switches the filter off for every group (its state kept untouched) and on again; on by default.</summary>
    public bool GrokfastEnabled { get; set; } = true;

    /// <summary>Added to the denominator (the first group's; <see cref="param_groups"/> has each group's).</summary>
    public double eps => groups[0].Options.eps!.Value;

    /// <summary>Weight decay: an L2 term added to the gradient (Adam) or a decay of the parameter (AdamW); the first group's.</summary>
    public double weight_decay => groups[0].Options.weight_decay!.Value;

    /// <summary>The learning rate: the first group's; setting it sets every group's.</summary>
    public double lr
    {
        get => groups[0].LearningRate;
        set
        {
            ValidateLearningRate(value, nameof(lr));
            foreach (ParamGroup group in groups) group.LearningRate = value;
        }
    }

    /// <summary>The decays of the first and second moments, each in [0, 1): the first group's; setting them sets every group's.</summary>
    public (double, double) Betas
    {
        get => groups[0].Betas;
        set
        {
            Validate(0, value.Item1, value.Item2, 0, 0);
            foreach (ParamGroup group in groups) group.Betas = value;
        }
    }

    /// <summary>The backend the fused pass runs on.</summary>
    public KernelBackend Backend => core.Steps.Backend;

    /// <summary>Steps taken so far (skipped steps not counted).</summary>
    public long StepCount => Counts.StepCount;

    /// <summary>Steps skipped so far because a gradient held a NaN or ±Inf.</summary>
    public long SkippedStepCount => Counts.SkippedStepCount;

    /// <summary>True when the last <see cref="step"/> found a non-finite gradient and changed nothing.</summary>
    public bool LastStepSkipped => Counts.LastStepSkipped;

    /// <summary>Whether a step whose gradients hold a NaN or ±Inf is skipped whole (on by default; see <see cref="GradientFilter.SkipNonFinite"/>).</summary>
    public bool SkipNonFinite
    {
        get => core.Steps.SkipNonFinite;
        set => core.Steps.SkipNonFinite = value;
    }

    /// <summary>
    /// Bytes one step moves per parameter element, what bandwidth figures count. The pass: Adam alone 28 (read g, p, m,
    /// v; write p, m, v), with the EMA or Kalman filter 36, with the windowed mean 52 (its slot and float64 sum as well).
    /// With the guard (<see cref="SkipNonFinite"/>, the default) or clipping on, the scan's read of the gradients before
    /// it, 4 more (32, 40, 56; clipping's norm is summed in the same read). For 16-bit parameters with master weights the
    /// pass moves as many (2 fewer for the gradient, 2 more for writing the parameter beside its master) and the scan 2;
    /// without master weights the pass moves 6 fewer. A model mixing both is averaged over its elements, rounded.
    /// </summary>
    public int BytesPerElement => core.BytesPerElement(MasterWeights, scanned: SkipNonFinite || max_grad_norm is not null);

    /// <summary>Trainable parameters (elements) the optimizer updates.</summary>
    public long ElementCount => core.Steps.Gradients.Length;

    /// <summary>
    /// One fused step over every parameter that has a gradient: the filter (where it is on) and Adam/AdamW in one pass,
    /// each parameter group with its own hyperparameters. A parameter without a gradient is left out, its state and step
    /// count unchanged, as <c>torch.optim.Adam</c> does.
    /// </summary>
    /// <param name="closure">Optional: re-evaluates the model and returns the loss, which the step then returns.</param>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        ThrowIfDisposed();
        Tensor? loss = null;
        if (closure is not null)
        {
            using (torch.enable_grad()) loss = closure();
        }
        CommitSnapshot();
        PrepareGroups();
        core.RefreshParameters();
        core.Steps.Step(this);
        if (core.Steps.Shards is not null && !core.Steps.Counts.LastStepSkipped) core.GatherParameters();
        stepCalls++;
        return loss!;
    }

    /// <summary>Zeroes every gradient in place, in one pass over the flat gradient buffers (the gradients stay its views).</summary>
    public override void zero_grad()
    {
        ThrowIfDisposed();
        core.Steps.ZeroGradients();
    }

    /// <summary>The parameters the optimizer updates, group by group.</summary>
    public override IEnumerable<Parameter> parameters() => groups.SelectMany(g => g.Parameters);

    /// <summary>
    /// Adds a parameter group, as <c>torch.optim</c> does: a <see cref="ParamGroup"/> or TorchSharp's
    /// <c>AdamW.ParamGroup</c>/<c>Adam.ParamGroup</c>, its null options taking the constructor's. The flat buffers are
    /// laid out again with the new group's parameters after the others; every earlier group's state — moments, masters,
    /// the filter's state, step counts — carries over bit for bit, and the new group's starts fresh. Its parameters must
    /// not be in another group. From then on, replaced parameters are found by disposal only (as for parameter lists).
    /// With sharded state (<see cref="shard_over"/>) every rank adds the same group at the same step: the earlier buffers
    /// keep their blocks, so each rank's state carries over as it is.
    /// </summary>
    public override void add_param_group(TorchSharp.Modules.ParamGroup param_group)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(param_group);
        EndSnapshot();
        int index = groups.Count;
        ParamGroup group = GroupSource.Convert(param_group, index);
        Complete(group, index, defaults);
        IReadOnlyList<IReadOnlyList<(string, Parameter)>> named = [.. names, FilterTarget.Named(group.Parameters, $"param_groups[{index}]")];
        var next = new FusedAdamState(named, module: null, grokfast, Backend, SkipNonFinite, MasterWeights, core.Steps.ShardRanks);
        try
        {
            next.ContinueFrom(core);
        }
        catch
        {
            next.Dispose();
            throw;
        }
        core.Dispose();
        (core, names, module) = (next, named, null);
        groups.Add(group);
        _parameter_groups.Add(group);
        (filtering, lambs) = (new bool[groups.Count], new double[groups.Count]);
        BindStates();
    }

    /// <summary>
    /// Copies of the state tensors by name, flat in the parameters' layout order: exp_avg, exp_avg_sq, master_weights (the
    /// 16-bit parameters' float32 copies, when kept) and the filter's. The caller owns the copies.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> state()
    {
        ThrowIfDisposed();
        var copies = new Dictionary<string, Tensor>(core.Filter?.state() ?? new Dictionary<string, Tensor>());
        using (torch.no_grad())
        {
            copies[nameof(FusedAdamState.exp_avg)] = core.exp_avg!.clone().DetachFromDisposeScope();
            copies[nameof(FusedAdamState.exp_avg_sq)] = core.exp_avg_sq!.clone().DetachFromDisposeScope();
            if (core.master_weights is not null) copies[nameof(FusedAdamState.master_weights)] = core.master_weights.clone().DetachFromDisposeScope();
        }
        return copies;
    }

    /// <summary>Frees the moments, the filter and the buffers; the parameters keep their values and gradients.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !disposed)
        {
            disposed = true;
            ReleaseStates();
            core?.Dispose();
            snapshot?.Dispose();
        }
        base.Dispose(disposing);
    }

    // The per-parameter states TorchSharp's state_dict lists, over the current buffers; each group keeps only the
    // parameters the buffers hold (those that require grad), so every one it lists has a state.
    // Sharded, they are views of the snapshot, which the first state_dict() makes (none before it).
    private void BindStates()
    {
        ReleaseStates();
        IReadOnlyList<TrainableParameter> trainable = core.Steps.Parameters;
        var handles = trainable.Select(p => p.Parameter.Handle).ToHashSet();
        foreach (ParamGroup group in groups) group.Parameters = group.Parameters.Where(p => handles.Contains(p.Handle)).ToArray();
        if (core.Steps.Shards is not null && snapshot is null) return;
        for (int i = 0; i < trainable.Count; i++)
        {
            _state[trainable[i].Parameter.Handle] = snapshot is null ? new ParameterState(this, trainable[i], i) : new ParameterState(this, trainable[i], i, snapshot);
        }
    }

    // Sharded: what was loaded into state_dict()'s snapshot goes into this rank's blocks. Nothing without a snapshot.
    private void CommitSnapshot() => snapshot?.Commit();

    // Before the buffers are laid out again: the snapshot committed and ended, its states released.
    private void EndSnapshot()
    {
        CommitSnapshot();
        ReleaseStates();
        snapshot?.Dispose();
        snapshot = null;
    }

    private void ReleaseStates()
    {
        foreach (OptimizerState state in _state.Values) ((ParameterState)state).Dispose();
        _state.Clear();
    }

    bool IRunStepper.Filters(int group) => filtering[core.Steps.Groups[group].ParamGroup];

    bool IRunStepper.Updates => true;

    void IRunStepper.Run(ParameterRun run)
    {
        int paramGroup = core.Steps.Groups[run.Group].ParamGroup;
        core.Run(run, filtering[paramGroup], lambs[paramGroup]);
    }

    void IRunStepper.Run(DeviceRun run, int group)
    {
        int paramGroup = core.Steps.Groups[group].ParamGroup;
        core.Run(run, group, filtering[paramGroup], lambs[paramGroup]);
    }

    // The counts, on CUDA read back from the device when a step was queued since (so never after disposal).
    private (long StepCount, long SkippedStepCount, bool LastStepSkipped) Counts
    {
        get
        {
            ThrowIfDisposed();
            return core.Steps.Counts;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
