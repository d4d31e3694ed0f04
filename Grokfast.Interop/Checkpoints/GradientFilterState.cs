namespace Grokfast.Checkpoints;

/// <summary>
/// Everything a Grokfast filter needs to continue exactly where it stopped: its kind and hyperparameters,
/// the step count, the parameters it was built for, and its state buffers as raw little-endian bytes.
/// <see cref="Save"/> and <see cref="Load"/> write and read a versioned binary format ending in a SHA-256
/// checksum, so a truncated or corrupted file is refused instead of loaded.
/// </summary>
public sealed class GradientFilterState
{
    /// <summary>The format this release writes; it reads this version and older.</summary>
    public const int FormatVersion = 1;

    private static readonly byte[] Magic = "GFST"u8.ToArray();

    // Limits a file must keep to; the smallest record of each kind bounds a count by the bytes left.
    private const int MaxHyperparameters = 64, MaxBuffers = 64, MaxRank = 64;
    private const int MinHyperparameterBytes = 1 + sizeof(double), MinParameterBytes = 1 + sizeof(int) + sizeof(long), MinBufferBytes = 1 + sizeof(long);

    /// <summary>A state as a filter describes itself.</summary>
    internal GradientFilterState(string kind, IReadOnlyDictionary<string, double> hyperparameters, long stepCount,
        IReadOnlyList<ParameterRecord> parameters, IReadOnlyDictionary<string, byte[]> buffers)
    {
        Kind = kind;
        Hyperparameters = hyperparameters;
        StepCount = stepCount;
        Parameters = parameters;
        Buffers = buffers;
    }

    /// <summary>ema, ma or kalman.</summary>
    public string Kind { get; }

    /// <summary>The filter's hyperparameters by their Python names.</summary>
    public IReadOnlyDictionary<string, double> Hyperparameters { get; }

    /// <summary>Steps the filter had taken.</summary>
    public long StepCount { get; }

    /// <summary>The parameters, in the flat buffer's order.</summary>
    public IReadOnlyList<ParameterRecord> Parameters { get; }

    /// <summary>The state buffers by name, as raw bytes.</summary>
    public IReadOnlyDictionary<string, byte[]> Buffers { get; }

    /// <summary>Writes the state to <paramref name="stream"/>, hashing as it goes (no copy of the file is made).</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var writer = new CheckpointWriter(stream);
        writer.Write(Magic);
        writer.Write(FormatVersion);
        writer.WriteName(Kind);
        writer.Write(Hyperparameters.Count);
        foreach ((string name, double value) in Hyperparameters.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            writer.WriteName(name);
            writer.Write(value);
        }
        writer.Write(StepCount);
        writer.Write(Parameters.Count);
        foreach (ParameterRecord p in Parameters)
        {
            writer.WriteName(p.Name);
            writer.Write(p.Shape.Length);
            foreach (long dimension in p.Shape) writer.Write(dimension);
            writer.Write(p.StepsFiltered);
        }
        writer.Write(Buffers.Count);
        foreach ((string name, byte[] bytes) in Buffers.OrderBy(b => b.Key, StringComparer.Ordinal))
        {
            writer.WriteName(name);
            writer.Write((long)bytes.Length);
            writer.Write(bytes);
        }
        writer.WriteChecksum();
    }

    /// <summary>
    /// Reads a state written by <see cref="Save"/> from bytes that may come from anywhere: every count and length is
    /// checked before anything is allocated for it, so a damaged or hostile file — even one with a matching checksum —
    /// throws <see cref="InvalidDataException"/> naming what is wrong, never runs out of memory or overflows. The file is
    /// read once, in order; only its buffers are kept.
    /// </summary>
    public static GradientFilterState Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var reader = new CheckpointReader(stream);
        byte[] magic = new byte[Magic.Length];
        reader.ReadExactly(magic, "its header");
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException("Not a Grokfast filter checkpoint (bad header).");
        int version = reader.ReadInt32("its format version");
        if (version > FormatVersion || version < 1)
            throw new InvalidDataException($"Checkpoint format version {version} is not supported; this release reads versions 1 to {FormatVersion}.");
        string kind = reader.ReadName("kind");
        var hyperparameters = new Dictionary<string, double>();
        for (int i = reader.ReadCount("hyperparameter count", MaxHyperparameters, MinHyperparameterBytes); i > 0; i--)
        {
            string name = reader.ReadName("hyperparameter name");
            if (!hyperparameters.TryAdd(name, reader.ReadDouble($"hyperparameter {name}")))
                throw new InvalidDataException($"The checkpoint records the hyperparameter '{name}' twice.");
        }
        long stepCount = reader.ReadInt64("step count");
        if (stepCount < 0) throw new InvalidDataException($"The checkpoint's step count is {stepCount}; it must be ≥ 0.");
        var parameters = new List<ParameterRecord>();
        for (int i = reader.ReadCount("parameter count", int.MaxValue, MinParameterBytes); i > 0; i--)
        {
            string name = reader.ReadName("parameter name");
            long[] shape = new long[reader.ReadCount($"rank of parameter '{name}'", MaxRank, sizeof(long))];
            for (int d = 0; d < shape.Length; d++)
            {
                shape[d] = reader.ReadInt64($"shape of parameter '{name}'");
                if (shape[d] < 0) throw new InvalidDataException($"The checkpoint's parameter '{name}' has a dimension of {shape[d]}.");
            }
            long stepsFiltered = reader.ReadInt64($"steps filtered of parameter '{name}'");
            if (stepsFiltered < 0) throw new InvalidDataException($"The checkpoint's parameter '{name}' was filtered {stepsFiltered} times.");
            parameters.Add(new ParameterRecord(name, shape, stepsFiltered));
        }
        var buffers = new Dictionary<string, byte[]>();
        for (int i = reader.ReadCount("buffer count", MaxBuffers, MinBufferBytes); i > 0; i--)
        {
            string name = reader.ReadName("buffer name");
            long length = reader.ReadLength($"buffer '{name}'");
            if (length > Array.MaxLength)
                throw new InvalidDataException($"The checkpoint's buffer '{name}' is {length} bytes; a state in memory holds buffers of at most {Array.MaxLength}.");
            byte[] bytes = new byte[length];
            reader.ReadExactly(bytes, $"buffer '{name}'");
            if (!buffers.TryAdd(name, bytes)) throw new InvalidDataException($"The checkpoint holds the buffer '{name}' twice.");
        }
        reader.VerifyChecksum();
        return new GradientFilterState(kind, hyperparameters, stepCount, parameters, buffers);
    }
}
