namespace Grokfast.Checkpoints;

/// <summary>
/// Everything a Grokfast filter needs to continue exactly where it stopped: its kind and hyperparameters,
/// the step count, the parameters it was built for, and its state buffers as raw little-endian bytes.
/// <see cref="Save"/> and <see cref="Load"/> write and read a versioned binary format ending in a SHA-256
/// checksum, so a truncated or corrupted file is refused instead of loaded. A state held here keeps each buffer in an
/// array (up to 2 GiB each); the filters' and optimizers' <c>save(path)</c> and <c>load(path)</c> stream state of any
/// size between its tensors and the file instead.
/// </summary>
public sealed class GradientFilterState
{
    /// <summary>The format this release writes; it reads this version and older.</summary>
    public const int FormatVersion = CheckpointFile.Version;

    private readonly IReadOnlyDictionary<string, byte[]>? buffers;
    private readonly IReadOnlyDictionary<string, StateBuffer>? staged;

    /// <summary>A state as a filter describes itself.</summary>
    internal GradientFilterState(string kind, IReadOnlyDictionary<string, double> hyperparameters, long stepCount,
        IReadOnlyList<ParameterRecord> parameters, IReadOnlyDictionary<string, byte[]> buffers)
        : this(kind, hyperparameters, stepCount, parameters, buffers.ToDictionary(b => b.Key, b => (long)b.Value.Length)) =>
        this.buffers = buffers;

    private GradientFilterState(string kind, IReadOnlyDictionary<string, double> hyperparameters, long stepCount,
        IReadOnlyList<ParameterRecord> parameters, IReadOnlyDictionary<string, long> bufferLengths, IReadOnlyDictionary<string, StateBuffer>? staged = null)
    {
        Kind = kind;
        Hyperparameters = hyperparameters;
        StepCount = stepCount;
        Parameters = parameters;
        BufferLengths = bufferLengths;
        this.staged = staged;
    }

    /// <summary>ema, ma or kalman (adam+ema, adamw+none, … for the fused optimizers).</summary>
    public string Kind { get; }

    /// <summary>The filter's hyperparameters by their Python names.</summary>
    public IReadOnlyDictionary<string, double> Hyperparameters { get; }

    /// <summary>Steps the filter had taken.</summary>
    public long StepCount { get; }

    /// <summary>The parameters, in the flat buffer's order.</summary>
    public IReadOnlyList<ParameterRecord> Parameters { get; }

    /// <summary>The state buffers by name, as raw bytes.</summary>
    public IReadOnlyDictionary<string, byte[]> Buffers =>
        buffers ?? throw new InvalidOperationException("This state was read from its file into staging buffers; they are not held as arrays.");

    /// <summary>Each buffer's length in bytes.</summary>
    internal IReadOnlyDictionary<string, long> BufferLengths { get; }

    internal CheckpointHeader Header => new(FormatVersion, Kind, Hyperparameters, StepCount, Parameters);

    /// <summary>The same state under another kind and hyperparameters: the filter's part of an optimizer's state.</summary>
    internal GradientFilterState WithHeader(string kind, IReadOnlyDictionary<string, double> hyperparameters) =>
        buffers is not null
            ? new GradientFilterState(kind, hyperparameters, StepCount, Parameters, buffers)
            : new GradientFilterState(kind, hyperparameters, StepCount, Parameters, BufferLengths, staged);

    /// <summary>
    /// Overwrites each of <paramref name="targets"/> with the buffer of its name (the caller has checked names and
    /// lengths): from the arrays of a state held in memory, or from the staging copies of a <see cref="StagedCheckpoint"/>.
    /// </summary>
    internal void CopyInto(IReadOnlyCollection<StateBuffer> targets)
    {
        foreach (StateBuffer target in targets)
        {
            if (staged is not null) target.CopyFrom(staged[target.Name]);
            else target.LoadFrom(Buffers[target.Name]);
        }
    }

    /// <summary>Writes the state to <paramref name="stream"/>, hashing as it goes (no copy of the file is made).</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        CheckpointFile.Write(stream, Header, Buffers.Select(b => new HostStateBuffer<byte>(b.Key, b.Value)));
    }

    /// <summary>
    /// Reads a state written by <see cref="Save"/> (or by a filter's <c>save</c>, in this format version or an older one)
    /// from bytes that may come from anywhere: every count and length is checked before anything is allocated for it, so a
    /// damaged or hostile file — even one with a matching checksum — throws <see cref="InvalidDataException"/> naming what
    /// is wrong, never runs out of memory or overflows. The stream is read once, in order; only the buffers are kept.
    /// </summary>
    public static GradientFilterState Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new CheckpointReader(stream);
        CheckpointHeader header = CheckpointFile.ReadHeader(reader);
        var buffers = new Dictionary<string, byte[]>();
        foreach ((string name, long length) in CheckpointFile.ReadBuffers(reader, header.Version))
        {
            if (length > Array.MaxLength)
                throw new InvalidDataException($"The checkpoint's buffer '{name}' is {length} bytes; a state held in memory takes buffers of at most {Array.MaxLength} (load(path) streams any size).");
            buffers[name] = reader.ReadBlock(length, $"buffer '{name}'");
        }
        reader.VerifyChecksum();
        return new GradientFilterState(header.Kind, header.Hyperparameters, header.StepCount, header.Parameters, buffers);
    }

    /// <summary>A state whose buffers are the staging copies a <see cref="StagedCheckpoint"/> read them into.</summary>
    internal static GradientFilterState Staged(CheckpointHeader header, IReadOnlyDictionary<string, long> lengths, IReadOnlyDictionary<string, StateBuffer> staged) =>
        new(header.Kind, header.Hyperparameters, header.StepCount, header.Parameters, lengths, staged);
}
