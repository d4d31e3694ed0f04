namespace Grokfast.Checkpoints;

/// <summary>What a checkpoint is taken from and loaded into: a filter, or a fused optimizer with its filter.</summary>
internal interface ICheckpointable
{
    /// <summary>The header a checkpoint of the current state carries (on CUDA, after the queued steps).</summary>
    CheckpointHeader CheckpointHeader();

    /// <summary>The state a checkpoint holds, each buffer streamed from and into where it lives.</summary>
    IReadOnlyList<StateBuffer> StateBuffers { get; }

    /// <summary>Brings host copies of device-side state up to date before the buffers are read.</summary>
    void BeforeStateSaved();

    /// <summary>Checks that <paramref name="state"/> fits, throwing and changing nothing if not, then takes it.</summary>
    void LoadCheckpoint(GradientFilterState state);

    /// <summary>Throws <see cref="ObjectDisposedException"/> once the owner is disposed.</summary>
    void ThrowIfDisposed();
}

/// <summary>
/// The checkpoint operations filters and fused optimizers share, written once: a snapshot, a streamed atomic save, and a
/// staged load that changes nothing unless the whole file reads, checks and fits.
/// </summary>
internal static class CheckpointCodec
{
    /// <summary>A snapshot of the whole state, each buffer held in an array.</summary>
    public static GradientFilterState StateDict(ICheckpointable owner)
    {
        owner.ThrowIfDisposed();
        CheckpointHeader header = owner.CheckpointHeader();
        owner.BeforeStateSaved();
        return new GradientFilterState(header.Kind, header.Hyperparameters, header.StepCount, header.Parameters,
            owner.StateBuffers.ToDictionary(b => b.Name, b => b.ToArray()));
    }

    /// <summary>Saves the state to <paramref name="path"/> (see <see cref="CheckpointFile.Save"/>).</summary>
    public static void Save(ICheckpointable owner, string path)
    {
        owner.ThrowIfDisposed();
        CheckpointHeader header = owner.CheckpointHeader();
        owner.BeforeStateSaved();
        CheckpointFile.Save(path, header, owner.StateBuffers);
    }

    /// <summary>Writes the state to <paramref name="stream"/> (a sharded optimizer's ranks but the first: to <see cref="Stream.Null"/>).</summary>
    public static void Save(ICheckpointable owner, Stream stream)
    {
        owner.ThrowIfDisposed();
        CheckpointHeader header = owner.CheckpointHeader();
        owner.BeforeStateSaved();
        CheckpointFile.Write(stream, header, owner.StateBuffers);
    }

    /// <summary>Loads the checkpoint at <paramref name="path"/> (see <see cref="Load(ICheckpointable, Stream)"/>).</summary>
    public static void Load(ICheckpointable owner, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        owner.ThrowIfDisposed();
        using FileStream file = CheckpointFile.OpenRead(path);
        Load(owner, file);
    }

    /// <summary>Reads the checkpoint in <paramref name="stream"/> into staging copies, then takes it through <see cref="ICheckpointable.LoadCheckpoint"/>.</summary>
    public static void Load(ICheckpointable owner, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        owner.ThrowIfDisposed();
        StagedCheckpoint.Load(stream, owner.StateBuffers, owner.LoadCheckpoint);
    }
}
