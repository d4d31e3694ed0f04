namespace Grokfast.Checkpoints;

/// <summary>
/// A checkpoint file read once, in order, into staging copies of the state it is to replace — as PyTorch's
/// <c>load_state_dict</c> holds the loaded state beside the live one — so that a load that fails at any point (a read
/// error, a truncated or corrupted file, one that changes while it is read, a state that does not fit) leaves the live
/// state as it was. The price is one more copy of the state, where it lives, while the load runs.
/// </summary>
internal sealed class StagedCheckpoint : IDisposable
{
    private readonly Dictionary<string, StateBuffer> staged;

    private StagedCheckpoint(GradientFilterState state, Dictionary<string, StateBuffer> staged)
    {
        State = state;
        this.staged = staged;
    }

    /// <summary>
    /// Reads a checkpoint from <paramref name="stream"/> into staging copies of <paramref name="targets"/> and hands it to
    /// <paramref name="loadStateDict"/>, which checks it and commits it (a filter's or optimizer's <c>load_state_dict</c>).
    /// </summary>
    public static void Load(Stream stream, IReadOnlyCollection<StateBuffer> targets, Action<GradientFilterState> loadStateDict)
    {
        using StagedCheckpoint checkpoint = Read(stream, targets);
        loadStateDict(checkpoint.State);
    }

    /// <summary>The checkpoint's header and buffer lengths, its buffers the staging copies; valid until disposed.</summary>
    public GradientFilterState State { get; }

    /// <summary>
    /// Reads a checkpoint whole from <paramref name="stream"/> — every field and the checksum checked — staging each
    /// buffer that one of <paramref name="targets"/> takes (the same name and length); a buffer no target takes is read
    /// past. Writes nothing of the targets: committing is <see cref="GradientFilterState.CopyInto"/> on <see cref="State"/>.
    /// </summary>
    private static StagedCheckpoint Read(Stream stream, IReadOnlyCollection<StateBuffer> targets)
    {
        var staged = new Dictionary<string, StateBuffer>();
        try
        {
            using var reader = new CheckpointReader(stream);
            CheckpointHeader header = CheckpointFile.ReadHeader(reader);
            var lengths = new Dictionary<string, long>();
            foreach ((string name, long length) in CheckpointFile.ReadBuffers(reader, header.Version))
            {
                lengths[name] = length;
                StateBuffer? target = targets.FirstOrDefault(t => t.Name == name && t.Length == length);
                if (target is null)
                {
                    reader.Skip(length, $"buffer '{name}'");
                    continue;
                }
                StateBuffer staging = target.CreateStaging();
                staged[name] = staging;
                staging.Load(chunk => reader.ReadExactly(chunk, $"buffer '{name}'"));
            }
            reader.VerifyChecksum();
            return new StagedCheckpoint(GradientFilterState.Staged(header, lengths, staged), staged);
        }
        catch
        {
            foreach (StateBuffer staging in staged.Values) staging.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (StateBuffer staging in staged.Values) staging.Dispose();
    }
}
