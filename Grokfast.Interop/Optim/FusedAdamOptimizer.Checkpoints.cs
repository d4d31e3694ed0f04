using Grokfast.Bridge;
using Grokfast.Checkpoints;
using Grokfast.Filters;

namespace Grokfast.Optim;

// The optimizer's checkpoints: the filter's format under the optimizer's kind, Adam's hyperparameters and buffers beside
// the filter's (CheckpointCodec, shared with the filters).
public abstract partial class FusedAdamOptimizer
{
    /// <summary>
    /// A snapshot of the optimizer's whole state — Adam's hyperparameters, the moments, the step counts and the filter's
    /// state — in the filters' checkpoint format (kind <c>adam+ema</c>, <c>adamw+none</c>, …).
    /// </summary>
    public GradientFilterState state_dict() => CheckpointCodec.StateDict(this);

    /// <summary>
    /// Restores a state from <see cref="state_dict"/>. Adam's hyperparameters (lr, betas, eps, weight decay) are taken from
    /// it, as <c>torch.optim</c> restores its parameter groups; another optimizer or filter kind, other filter
    /// hyperparameters or another model throws <see cref="ArgumentException"/> and leaves this optimizer as it was.
    /// </summary>
    public void load_state_dict(GradientFilterState state)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(state);
        if (state.Kind != Kind)
            throw new ArgumentException($"The checkpoint holds the state of {state.Kind}; this optimizer is {Kind}.", nameof(state));
        foreach (string name in AdamHyperparameters)
        {
            if (!state.Hyperparameters.ContainsKey(name))
                throw new ArgumentException($"The checkpoint records no {name}.", nameof(state));
        }
        double[] saved = AdamHyperparameters.Select(name => state.Hyperparameters[name]).ToArray();
        try
        {
            Validate(saved[0], saved[1], saved[2], saved[3], saved[4]);
        }
        catch (ArgumentOutOfRangeException error)
        {
            throw new ArgumentException($"The checkpoint's Adam hyperparameters are out of range: {error.Message}", nameof(state), error);
        }
        CheckpointFit.CheckBuffers(state, OwnStateBuffers);
        if (master_weights is null && state.BufferLengths.ContainsKey(nameof(master_weights)))
            throw new ArgumentException("The checkpoint carries float32 master weights; this optimizer has master_weights off (or no 16-bit parameters).", nameof(state));
        GradientFilterState inner = state.WithHeader(filter.Kind, state.Hyperparameters.Where(h => !AdamHyperparameters.Contains(h.Key)).ToDictionary());
        filter.CheckStateFits(inner);
        // Everything matches: only now is any state overwritten, the filter's and Adam's in one pass over the buffers.
        filter.FinishQueuedSteps();
        state.CopyInto(StateBuffers);
        filter.RestoreCounts(inner);
        if (master_weights is not null) RestoreParametersFromMasters();
        group.LearningRate = saved[0];
        (beta1, beta2, eps, weight_decay) = (saved[1], saved[2], saved[3], saved[4]);
    }

    /// <inheritdoc cref="GradientFilter.save(string)"/>
    public void save(string path) => CheckpointCodec.Save(this, path);

    /// <inheritdoc cref="GradientFilter.load(string)"/>
    public void load(string path) => CheckpointCodec.Load(this, path);

    /// <inheritdoc cref="GradientFilter.load(Stream)"/>
    public void load(Stream stream) => CheckpointCodec.Load(this, stream);

    /// <summary>The filter's header under this optimizer's kind, with Adam's hyperparameters beside the filter's.</summary>
    private CheckpointHeader CheckpointHeader()
    {
        CheckpointHeader inner = filter.CheckpointHeader();
        var hyperparameters = new Dictionary<string, double>(inner.Hyperparameters)
        {
            ["lr"] = lr, ["beta1"] = beta1, ["beta2"] = beta2, ["eps"] = eps, ["weight_decay"] = weight_decay,
        };
        return inner with { Kind = Kind, Hyperparameters = hyperparameters };
    }

    /// <summary>Adam's moments and, for 16-bit parameters, their float32 masters.</summary>
    private List<StateBuffer> OwnStateBuffers
    {
        get
        {
            var buffers = new List<StateBuffer> { new TensorStateBuffer(nameof(exp_avg), exp_avg!), new TensorStateBuffer(nameof(exp_avg_sq), exp_avg_sq!) };
            if (master_weights is not null) buffers.Add(new TensorStateBuffer(nameof(master_weights), master_weights));
            return buffers;
        }
    }

    private List<StateBuffer> StateBuffers => [.. filter.StateBuffers, .. OwnStateBuffers];

    CheckpointHeader ICheckpointable.CheckpointHeader() => CheckpointHeader();

    IReadOnlyList<StateBuffer> ICheckpointable.StateBuffers => StateBuffers;

    void ICheckpointable.BeforeStateSaved() => filter.BeforeStateSaved();

    void ICheckpointable.ThrowIfDisposed() => ThrowIfDisposed();
}
