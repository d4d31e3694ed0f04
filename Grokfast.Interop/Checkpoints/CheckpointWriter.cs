using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Grokfast.Checkpoints;

/// <summary>
/// Writes a checkpoint's fields to a stream as they come, hashing them (SHA-256) for the checksum that ends the file,
/// so that no copy of the file is built in memory. Names are written as <see cref="BinaryWriter.Write(string)"/> does.
/// </summary>
internal sealed class CheckpointWriter(Stream stream) : IDisposable
{
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] scalar = new byte[sizeof(long)];

    public void Write(ReadOnlySpan<byte> bytes)
    {
        hash.AppendData(bytes);
        stream.Write(bytes);
    }

    public void Write(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(scalar, value);
        Write(scalar.AsSpan(0, sizeof(int)));
    }

    public void Write(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(scalar, value);
        Write(scalar.AsSpan(0, sizeof(long)));
    }

    public void Write(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(scalar, value);
        Write(scalar.AsSpan(0, sizeof(double)));
    }

    public void WriteName(string name)
    {
        if (name.Any(char.IsControl)) throw new ArgumentException("Checkpoint names hold no control characters (a reader refuses them).", nameof(name));
        byte[] bytes = Encoding.UTF8.GetBytes(name);
        if (bytes.Length > CheckpointReader.MaxNameBytes)
            throw new ArgumentException($"The name '{name[..32]}…' is {bytes.Length} UTF-8 bytes; checkpoints hold names of at most {CheckpointReader.MaxNameBytes}.", nameof(name));
        for (uint length = (uint)bytes.Length; ; length >>= 7)
        {
            scalar[0] = (byte)((length & 0x7Fu) | (length > 0x7Fu ? 0x80u : 0u));
            Write(scalar.AsSpan(0, 1));
            if (length <= 0x7F) break;
        }
        Write(bytes);
    }

    /// <summary>Writes the hash of everything written so far: the file's last 32 bytes.</summary>
    public void WriteChecksum() => stream.Write(hash.GetHashAndReset());

    public void Dispose() => hash.Dispose();
}
