using System.Globalization;
using Grokfast.Checkpoints;
using Grokfast.Filters;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

// The optimizer's checkpoints: the filters' format under the optimizer's kind, each parameter group's options among the
// hyperparameters, Adam's buffers beside the filter's (CheckpointCodec, shared with the filters).
public abstract partial class FusedAdamOptimizer
{
    // The options a checkpoint records per group, as param_groups[g].<name>; "params" is the group's parameter count.
    private static readonly string[] GroupKeys = ["params", "lr", "initial_lr", "beta1", "beta2", "eps", "weight_decay", "lamb", "grokfast"];

    // What checkpoints of one group wrote before groups existed; still read.
    private static readonly string[] SingleGroupKeys = ["lr", "beta1", "beta2", "eps", "weight_decay"];

    /// <summary>
    /// A snapshot of the optimizer's whole state — each parameter group's options, the moments, the step counts and the
    /// filter's state — in the filters' checkpoint format (kind <c>adam+ema</c>, <c>adamw+none</c>, …), what
    /// <see cref="save"/> streams; TorchSharp's shape of the same state is <c>state_dict()</c>.
    /// </summary>
    public GradientFilterState checkpoint() => CheckpointCodec.StateDict(this);

    /// <summary>
    /// Restores a state from <see cref="checkpoint"/>. Each group's options (lr, betas, eps, weight decay, lamb, whether it
    /// is filtered) are taken from it, as <c>torch.optim</c> restores its parameter groups; another optimizer or filter
    /// kind, other filter hyperparameters, another model or another grouping of its parameters throws
    /// <see cref="ArgumentException"/> naming the first difference and leaves this optimizer as it was.
    /// </summary>
    public void load_checkpoint(GradientFilterState state)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(state);
        if (state.Kind != Kind)
            throw new ArgumentException($"The checkpoint holds the state of {state.Kind}; this optimizer is {Kind}.", nameof(state));
        Options[] saved = SavedOptions(state);
        CheckpointFit.CheckParameters(state, core.Steps.Parameters);
        bool hasUpdates = state.BufferLengths.ContainsKey(FusedAdamState.UpdatesBuffer);
        CheckpointFit.CheckBuffers(state, StateBuffers.Where(b => hasUpdates || b.Name != FusedAdamState.UpdatesBuffer));
        if (core.master_weights is null && state.BufferLengths.ContainsKey(nameof(FusedAdamState.master_weights)))
            throw new ArgumentException("The checkpoint carries float32 master weights; this optimizer has master_weights off (or no 16-bit parameters).", nameof(state));
        GradientFilterState? inner = core.Filter is null ? null : state.WithHeader(core.Filter.Kind, state.Hyperparameters);
        if (inner is not null) core.Filter!.CheckStateFits(inner);
        // Everything matches: only now is any state overwritten, the filter's and Adam's in one pass over the buffers.
        _ = core.Steps.Counts;
        state.CopyInto(StateBuffers.Where(b => hasUpdates || b.Name != FusedAdamState.UpdatesBuffer).ToList());
        // Before steps updated were kept apart, a parameter was updated as often as it was filtered.
        if (!hasUpdates) state.Parameters.Select(p => p.StepsFiltered).ToArray().CopyTo(core.Steps.Book.Updates, 0);
        if (inner is not null) core.Filter!.RestoreCounts(inner);
        else core.Steps.Book.Restore(state);
        if (core.master_weights is not null) core.RestoreParametersFromMasters();
        for (int g = 0; g < groups.Count; g++) groups[g].Options.LoadStateDict(saved[g]);
        stepCalls = state.StepCount;
    }

    /// <summary>
    /// Restores a state in TorchSharp's shape (<c>state_dict()</c> of a fused optimizer with the same groups, parameter
    /// shapes and filter): each group's options, then each parameter's state. Everything is checked before anything
    /// changes. The optimizer-wide counts (<see cref="StepCount"/>, <see cref="SkippedStepCount"/>, the steps
    /// <see cref="grokfast_after_step"/> counts) are not part of that shape: <see cref="save"/>/<see cref="load(string)"/> carry them.
    /// </summary>
    public override void load_state_dict(StateDictionary state_dict)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(state_dict);
        StateDictionary mine = this.state_dict();
        if (state_dict.Options.Count != mine.Options.Count || state_dict.State.Count != mine.State.Count)
            throw new ArgumentException($"The state has {state_dict.Options.Count} parameter groups and {state_dict.State.Count} parameter states; this optimizer, {mine.Options.Count} and {mine.State.Count}.", nameof(state_dict));
        for (int g = 0; g < state_dict.Options.Count; g++)
        {
            if (state_dict.Options[g] is not Options options || options.beta1 is null || options.lamb is null)
                throw new ArgumentException($"param_groups[{g}]'s options are not a fused optimizer's completed options.", nameof(state_dict));
            Validate(options);
        }
        for (int i = 0; i < state_dict.State.Count; i++) ((ParameterState)mine.State[i]).CheckFits(state_dict.State[i]);
        base.load_state_dict(state_dict);
    }

    /// <inheritdoc cref="GradientFilter.save(string)"/>
    /// <remarks>
    /// With sharded state (<see cref="shard_over"/>) every rank calls it: the ranks gather each buffer whole, rank 0 writes
    /// the file — the checkpoint one process would write, which loads with any number of ranks — and every rank returns
    /// once the file is complete.
    /// </remarks>
    public void save(string path)
    {
        if (core.Steps.ShardRanks is not { } ranks)
        {
            CheckpointCodec.Save(this, path);
            return;
        }
        if (ranks.Rank == 0) CheckpointCodec.Save(this, path);
        else CheckpointCodec.Save(this, Stream.Null);
        // A barrier: no rank goes on (to load the file, say) before rank 0 has written it.
        ranks.AllReduceMax(0);
    }

    /// <inheritdoc cref="GradientFilter.load(string)"/>
    public void load(string path) => CheckpointCodec.Load(this, path);

    /// <inheritdoc cref="GradientFilter.load(Stream)"/>
    public void load(Stream stream) => CheckpointCodec.Load(this, stream);

    private string Kind => $"{(decoupled ? "adamw" : "adam")}+{core.Filter?.Kind ?? "none"}";

    /// <summary>The filter's header under this optimizer's kind, with each group's options beside the filter's hyperparameters.</summary>
    private CheckpointHeader CheckpointHeader()
    {
        CheckpointHeader filter = core.Filter?.CheckpointHeader() ?? new CheckpointHeader(GradientFilterState.FormatVersion, "none",
            new Dictionary<string, double>(), core.Steps.Counts.StepCount, core.Steps.Book.ParameterRecords());
        var hyperparameters = new Dictionary<string, double>(filter.Hyperparameters) { ["param_groups"] = groups.Count };
        for (int g = 0; g < groups.Count; g++)
        {
            Options o = groups[g].Options;
            double[] values = [ParametersIn(g), o.LearningRate!.Value, o.InitialLearningRate, o.beta1!.Value, o.beta2!.Value, o.eps!.Value,
                o.weight_decay!.Value, o.lamb!.Value, o.grokfast!.Value ? 1 : 0];
            for (int k = 0; k < GroupKeys.Length; k++) hyperparameters[GroupKey(g, GroupKeys[k])] = values[k];
        }
        return filter with { Kind = Kind, Hyperparameters = hyperparameters };
    }

    /// <summary>
    /// Each group's options as the checkpoint records them, after checking that it groups the parameters as this optimizer
    /// does (a checkpoint of one group from before groups were recorded: its Adam hyperparameters).
    /// </summary>
    private Options[] SavedOptions(GradientFilterState state)
    {
        IReadOnlyDictionary<string, double> h = state.Hyperparameters;
        double Read(string key) => h.TryGetValue(key, out double value) ? value : throw new ArgumentException($"The checkpoint records no {key}.", nameof(state));
        Options[] saved;
        if (!h.ContainsKey("param_groups"))
        {
            if (groups.Count != 1)
                throw new ArgumentException($"The checkpoint is of one parameter group; this optimizer has {groups.Count}.", nameof(state));
            double[] v = SingleGroupKeys.Select(Read).ToArray();
            saved = [new Options { LearningRate = v[0], InitialLearningRate = v[0], beta1 = v[1], beta2 = v[2], eps = v[3], weight_decay = v[4], lamb = groups[0].Options.lamb, grokfast = groups[0].Options.grokfast }];
        }
        else
        {
            CheckGrouping(state, (int)Read("param_groups"), g => (int)Read(GroupKey(g, "params")));
            saved = groups.Select((_, g) => new Options
            {
                LearningRate = Read(GroupKey(g, "lr")), InitialLearningRate = Read(GroupKey(g, "initial_lr")), beta1 = Read(GroupKey(g, "beta1")),
                beta2 = Read(GroupKey(g, "beta2")), eps = Read(GroupKey(g, "eps")), weight_decay = Read(GroupKey(g, "weight_decay")),
                lamb = Read(GroupKey(g, "lamb")), grokfast = Read(GroupKey(g, "grokfast")) != 0,
            }).ToArray();
        }
        for (int g = 0; g < saved.Length; g++)
        {
            try
            {
                Validate(saved[g]);
            }
            catch (ArgumentOutOfRangeException error)
            {
                throw new ArgumentException($"The checkpoint's param_groups[{g}] options are out of range: {error.Message}", nameof(state), error);
            }
        }
        return saved;
    }

    // The checkpoint's groups, by their parameter counts, against this optimizer's: the first parameter placed otherwise is named.
    private void CheckGrouping(GradientFilterState state, int count, Func<int, int> parametersIn)
    {
        if (count != groups.Count)
            throw new ArgumentException($"The checkpoint has {count} parameter groups; this optimizer has {groups.Count}.", nameof(state));
        int[] theirs = Enumerable.Range(0, count).SelectMany(g => Enumerable.Repeat(g, Math.Max(0, parametersIn(g)))).ToArray();
        for (int i = 0; i < core.Steps.Parameters.Count; i++)
        {
            int mine = core.Steps.Groups[core.Steps.Parameters[i].Group].ParamGroup;
            int their = i < theirs.Length ? theirs[i] : -1;
            if (their != mine)
                throw new ArgumentException($"The checkpoint puts parameter '{core.Steps.Parameters[i].Name}' in param_groups[{their}]; this optimizer puts it in param_groups[{mine}]: another grouping.", nameof(state));
        }
    }

    private int ParametersIn(int paramGroup) => core.Steps.Parameters.Count(p => core.Steps.Groups[p.Group].ParamGroup == paramGroup);

    private static string GroupKey(int group, string key) => string.Create(CultureInfo.InvariantCulture, $"param_groups[{group}].{key}");

    // Whatever was loaded into a sharded state_dict() first: a checkpoint saves it, or a load replaces it.
    private List<StateBuffer> StateBuffers
    {
        get
        {
            CommitSnapshot();
            return core.StateBuffers;
        }
    }

    CheckpointHeader ICheckpointable.CheckpointHeader() => CheckpointHeader();

    IReadOnlyList<StateBuffer> ICheckpointable.StateBuffers => StateBuffers;

    void ICheckpointable.BeforeStateSaved() => core.Filter?.BeforeStateSaved();

    void ICheckpointable.LoadCheckpoint(GradientFilterState state) => load_checkpoint(state);

    void ICheckpointable.ThrowIfDisposed() => ThrowIfDisposed();
}
