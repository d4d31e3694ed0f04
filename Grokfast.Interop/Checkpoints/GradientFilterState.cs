using System.Security.Cryptography;
using System.Text;

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
    private const int ChecksumLength = 32;

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

    /// <summary>Writes the state to <paramref name="stream"/>.</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var body = new MemoryStream();
        using (var writer = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(FormatVersion);
            writer.Write(Kind);
            writer.Write(Hyperparameters.Count);
            foreach ((string name, double value) in Hyperparameters.OrderBy(h => h.Key, StringComparer.Ordinal))
            {
                writer.Write(name);
                writer.Write(value);
            }
            writer.Write(StepCount);
            writer.Write(Parameters.Count);
            foreach (ParameterRecord p in Parameters)
            {
                writer.Write(p.Name);
                writer.Write(p.Shape.Length);
                foreach (long dimension in p.Shape) writer.Write(dimension);
                writer.Write(p.StepsFiltered);
            }
            writer.Write(Buffers.Count);
            foreach ((string name, byte[] bytes) in Buffers.OrderBy(b => b.Key, StringComparer.Ordinal))
            {
                writer.Write(name);
                writer.Write((long)bytes.Length);
                writer.Write(bytes);
            }
        }
        byte[] content = body.ToArray();
        stream.Write(content);
        stream.Write(SHA256.HashData(content));
    }

    /// <summary>Reads a state written by <see cref="Save"/>; throws <see cref="InvalidDataException"/> for anything else.</summary>
    public static GradientFilterState Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        byte[] file = copy.ToArray();
        if (file.Length < Magic.Length + sizeof(int) + ChecksumLength || !file.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException("Not a Grokfast filter checkpoint (bad header).");
        int version = BitConverter.ToInt32(file, Magic.Length);
        if (version > FormatVersion || version < 1)
            throw new InvalidDataException($"Checkpoint format version {version} is not supported; this release reads versions 1 to {FormatVersion}.");
        ReadOnlySpan<byte> content = file.AsSpan(0, file.Length - ChecksumLength);
        if (!SHA256.HashData(content).AsSpan().SequenceEqual(file.AsSpan(file.Length - ChecksumLength)))
            throw new InvalidDataException("The checkpoint is truncated or corrupted (checksum mismatch).");
        try
        {
            using var reader = new BinaryReader(new MemoryStream(file, 0, content.Length), Encoding.UTF8);
            reader.ReadBytes(Magic.Length + sizeof(int));
            string kind = reader.ReadString();
            var hyperparameters = new Dictionary<string, double>();
            for (int i = reader.ReadInt32(); i > 0; i--) hyperparameters[reader.ReadString()] = reader.ReadDouble();
            long stepCount = reader.ReadInt64();
            var parameters = new List<ParameterRecord>();
            for (int i = reader.ReadInt32(); i > 0; i--)
            {
                string name = reader.ReadString();
                long[] shape = new long[reader.ReadInt32()];
                for (int d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt64();
                parameters.Add(new ParameterRecord(name, shape, reader.ReadInt64()));
            }
            var buffers = new Dictionary<string, byte[]>();
            for (int i = reader.ReadInt32(); i > 0; i--)
            {
                string name = reader.ReadString();
                long length = reader.ReadInt64();
                byte[] bytes = reader.ReadBytes(checked((int)length));
                if (bytes.Length != length) throw new EndOfStreamException();
                buffers[name] = bytes;
            }
            return new GradientFilterState(kind, hyperparameters, stepCount, parameters, buffers);
        }
        catch (Exception error) when (error is EndOfStreamException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException("The checkpoint's contents do not parse, although its checksum matches.", error);
        }
    }
}
