namespace Grokfast.Checkpoints;

/// <summary>
/// The checkpoint format. Version 2: magic <c>GFST</c>, version, kind, hyperparameters (sorted by name), step count,
/// parameters (name, shape, steps filtered), then the buffers' directory (count; each name and length, sorted by name)
/// before their bytes in that order, then a SHA-256 of everything before it. Version 1 had each buffer's name and length
/// right before its bytes; it still loads. Names are 7-bit-length-prefixed UTF-8, numbers little-endian.
/// </summary>
internal static class CheckpointFile
{
    /// <summary>The version written; versions 1 to this one are read.</summary>
    public const int Version = 2;

    // Limits a file must keep to; the smallest record of each kind bounds a count by the bytes left.
    private const int MaxHyperparameters = 4096, MaxBuffers = 64, MaxRank = 64;
    private const int MinHyperparameterBytes = 1 + sizeof(double), MinParameterBytes = 1 + sizeof(int) + sizeof(long), MinBufferBytes = 1 + sizeof(long);

    private static ReadOnlySpan<byte> Magic => "GFST"u8;

    /// <summary>
    /// Writes a checkpoint to <paramref name="path"/> through <see cref="AtomicFile"/>: a save that fails or is killed half-way
    /// leaves the earlier file whole, and two saves to one path never mix.
    /// </summary>
    public static void Save(string path, CheckpointHeader header, IEnumerable<StateBuffer> buffers)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, file => Write(file, header, buffers));
    }

    /// <summary>Opens a checkpoint to load; other readers may read it too.</summary>
    public static FileStream OpenRead(string path) => new(path, FileMode.Open, FileAccess.Read, FileShare.Read);

    /// <summary>Writes a checkpoint, streaming each buffer's bytes from where they live and hashing as it goes.</summary>
    public static void Write(Stream stream, CheckpointHeader header, IEnumerable<StateBuffer> buffers)
    {
        using var writer = new CheckpointWriter(stream);
        writer.Write(Magic);
        writer.Write(Version);
        writer.WriteName(header.Kind);
        writer.Write(header.Hyperparameters.Count);
        foreach ((string name, double value) in header.Hyperparameters.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            writer.WriteName(name);
            writer.Write(value);
        }
        writer.Write(header.StepCount);
        writer.Write(header.Parameters.Count);
        foreach (ParameterRecord p in header.Parameters)
        {
            writer.WriteName(p.Name);
            writer.Write(p.Shape.Length);
            foreach (long dimension in p.Shape) writer.Write(dimension);
            writer.Write(p.StepsFiltered);
        }
        StateBuffer[] ordered = buffers.OrderBy(b => b.Name, StringComparer.Ordinal).ToArray();
        writer.Write(ordered.Length);
        foreach (StateBuffer buffer in ordered)
        {
            writer.WriteName(buffer.Name);
            writer.Write(buffer.Length);
        }
        foreach (StateBuffer buffer in ordered) buffer.Save(writer.Write);
        writer.WriteChecksum();
    }

    /// <summary>Reads everything before the buffers, checking every field; <see cref="InvalidDataException"/> naming what is wrong.</summary>
    public static CheckpointHeader ReadHeader(CheckpointReader reader)
    {
        byte[] magic = new byte[Magic.Length];
        reader.ReadExactly(magic, "its header");
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException("Not a Grokfast filter checkpoint (bad header).");
        int version = reader.ReadInt32("its format version");
        if (version > Version || version < 1)
            throw new InvalidDataException($"Checkpoint format version {version} is not supported; this release reads versions 1 to {Version}.");
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
        return new CheckpointHeader(version, kind, hyperparameters, stepCount, parameters);
    }

    /// <summary>
    /// The buffers after the header, each name and length yielded just before its bytes, which the caller reads (or
    /// skips) before asking for the next. Version 2's directory is checked whole first: lengths that add up to exactly
    /// the bytes before the checksum, no name twice.
    /// </summary>
    public static IEnumerable<(string Name, long Length)> ReadBuffers(CheckpointReader reader, int version)
    {
        int count = reader.ReadCount("buffer count", MaxBuffers, MinBufferBytes);
        if (version == 1)
        {
            var seen = new HashSet<string>();
            for (int i = 0; i < count; i++)
            {
                string name = reader.ReadName("buffer name");
                if (!seen.Add(name)) throw new InvalidDataException($"The checkpoint holds the buffer '{name}' twice.");
                yield return (name, reader.ReadLength($"buffer '{name}'"));
            }
            yield break;
        }
        var directory = new List<(string Name, long Length)>();
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadName("buffer name");
            long length = reader.ReadLength($"buffer '{name}'");
            if (directory.Any(d => d.Name == name)) throw new InvalidDataException($"The checkpoint holds the buffer '{name}' twice.");
            total += length;
            if (total > reader.Remaining) throw new InvalidDataException($"The checkpoint's buffers add up to more than the {reader.Remaining} bytes left before its checksum.");
            directory.Add((name, length));
        }
        if (total != reader.Remaining && reader.Remaining != long.MaxValue)
            throw new InvalidDataException($"The checkpoint's buffers add up to {total} bytes, but {reader.Remaining} are left before its checksum.");
        foreach ((string Name, long Length) entry in directory) yield return entry;
    }

}
