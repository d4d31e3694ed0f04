using Grokfast.Bridge;
using Grokfast.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Filters;

// The filter's checkpoints: snapshots, streamed atomic saves and staged loads (CheckpointCodec, shared with the fused
// optimizers), and what a load must fit (CheckpointFit).
public abstract partial class GradientFilter
{
    /// <summary>The state a checkpoint holds, each buffer streamed from and into where it lives (sharded: as the whole buffer).</summary>
    internal virtual IReadOnlyList<StateBuffer> StateBuffers => StateTensors.Select(t => steps.StateBufferOf(t.Key, t.Value)).ToList();

    /// <summary>
    /// Parameter <paramref name="p"/>'s part of the state tensors, as views shaped like it (the caller disposes them): what
    /// a fused optimizer's per-parameter state carries.
    /// </summary>
    internal IReadOnlyList<(string Name, Tensor View)> ParameterViews(TrainableParameter p) => ParameterViews(p, StateTensors, steps.Groups);

    /// <summary>
    /// As <see cref="ParameterViews(TrainableParameter)"/>, into state tensors laid out over <paramref name="groups"/>
    /// (this filter's, or the whole buffers of a sharded state's unsharded layout), by name as <see cref="StateTensors"/>
    /// names them. This default is for one float32 estimate per element.
    /// </summary>
    internal virtual IReadOnlyList<(string Name, Tensor View)> ParameterViews(TrainableParameter p, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyList<GradientGroup> groups) =>
        StateTensors.Keys.Select(name => (name, Slice(tensors[name], groups[p.Group].StateBase + p.Offset - groups[p.Group].Base, p))).ToList();

    /// <summary>The per-parameter covariances (the Kalman filter's; null for the others), current after <see cref="BeforeStateSaved"/>.</summary>
    internal virtual float[]? Covariances => null;

    /// <summary>The <paramref name="p"/>.Length elements of <paramref name="flat"/> from <paramref name="offset"/>, shaped like <paramref name="p"/>.</summary>
    private protected static Tensor Slice(Tensor flat, long offset, TrainableParameter p)
    {
        using Tensor part = flat.narrow(0, offset, p.Length);
        return part.view(p.Shape);
    }

    /// <summary>Brings host copies of device-side state up to date before a checkpoint reads them (the Kalman covariances on CUDA).</summary>
    internal virtual void BeforeStateSaved()
    {
    }

    /// <summary>Pushes state a checkpoint has just written on the host to where the kernels read it.</summary>
    internal virtual void AfterStateLoaded()
    {
    }

    /// <summary>
    /// A snapshot of the filter's whole state, to save or to load into a filter for the same model; each buffer is held
    /// in an array, so a buffer of more than 2 GiB throws <see cref="InvalidOperationException"/> (<see cref="save"/> streams any size).
    /// </summary>
    public GradientFilterState state_dict() => CheckpointCodec.StateDict(this);

    /// <summary>
    /// Restores a state from <see cref="state_dict"/>. A state of another filter kind, other hyperparameters
    /// or another model (parameter names or shapes) throws <see cref="ArgumentException"/> and leaves this
    /// filter's state as it was.
    /// </summary>
    public void load_state_dict(GradientFilterState state)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(state);
        CheckStateFits(state);
        // Everything matches: only now, with the queued steps done, is any state overwritten.
        FinishQueuedSteps();
        state.CopyInto(StateBuffers);
        RestoreCounts(state);
    }

    /// <summary>The header a checkpoint of this filter carries.</summary>
    internal CheckpointHeader CheckpointHeader() => new(GradientFilterState.FormatVersion, Kind, Hyperparameters, StepCount, steps.Book.ParameterRecords());

    CheckpointHeader ICheckpointable.CheckpointHeader() => CheckpointHeader();

    IReadOnlyList<StateBuffer> ICheckpointable.StateBuffers => StateBuffers;

    void ICheckpointable.BeforeStateSaved() => BeforeStateSaved();

    void ICheckpointable.ThrowIfDisposed() => ThrowIfDisposed();

    void ICheckpointable.LoadCheckpoint(GradientFilterState state) => load_state_dict(state);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first thing in <paramref name="state"/> that does not fit this filter.</summary>
    internal void CheckStateFits(GradientFilterState state)
    {
        CheckpointFit.CheckKind(state, Kind, Hyperparameters);
        CheckpointFit.CheckParameters(state, steps.Parameters);
        CheckpointFit.CheckBuffers(state, StateBuffers);
    }

    /// <summary>On CUDA, waits for the steps queued on the stream, so that nothing overwrites state a load is about to write.</summary>
    internal void FinishQueuedSteps() => _ = Counts;

    /// <summary>Takes the step counts from a state whose buffers have just been loaded, after <see cref="FinishQueuedSteps"/>.</summary>
    internal void RestoreCounts(GradientFilterState state)
    {
        AfterStateLoaded();
        steps.Book.Restore(state);
    }

    /// <summary>
    /// Saves the state to <paramref name="path"/>, streaming each buffer from its tensor to the file (no copy of the
    /// state in memory): written to a temporary file of its own in the same folder, flushed to disk and renamed into
    /// place, so a save that fails or is killed leaves the previous checkpoint whole, and two saves to one path never mix.
    /// </summary>
    public void save(string path) => CheckpointCodec.Save(this, path);

    /// <summary>
    /// Loads a state saved by <see cref="save"/> from <paramref name="path"/>; see <see cref="load(Stream)"/>.
    /// </summary>
    public void load(string path) => CheckpointCodec.Load(this, path);

    /// <summary>
    /// Loads a state saved by <c>save</c> (or <see cref="GradientFilterState.Save"/>) from <paramref name="stream"/>,
    /// read once, in order: each buffer streams into a staging copy of the state it replaces, and only when the whole file
    /// has been read, its checksum matched and it has been checked as <c>load_state_dict</c> checks a state is the state
    /// overwritten from the copies. A load that fails at any point — a read error, a truncated, corrupted or changing
    /// file, a state that does not fit — throws and leaves the state as it was. The staging copies cost as much memory as
    /// the state, where it lives, while the load runs (as PyTorch's <c>load_state_dict</c> holds the loaded state beside
    /// the live one).
    /// </summary>
    public void load(Stream stream) => CheckpointCodec.Load(this, stream);
}
