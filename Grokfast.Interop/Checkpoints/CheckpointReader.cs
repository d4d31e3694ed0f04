using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Grokfast.Checkpoints;

/// <summary>
/// Reads a checkpoint's fields from a stream of untrusted bytes: every value read is hashed (SHA-256) for the checksum at
/// the end, every count and length is checked against its limit and, where the stream knows its length, against the
/// bytes that remain before anything is allocated; running out of bytes, a name too long or not UTF-8, a negative
/// length — each is an <see cref="InvalidDataException"/> naming the field.
/// </summary>
internal sealed class CheckpointReader(Stream stream) : IDisposable
{
    /// <summary>Longest kind, hyperparameter, parameter or buffer name, in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 4096;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] scalar = new byte[sizeof(long)];
    private readonly long end = stream.CanSeek ? stream.Length : long.MaxValue;
    private long position = stream.CanSeek ? stream.Position : 0;

    /// <summary>Bytes left before the checksum, where the stream's length is known; <see cref="long.MaxValue"/> otherwise.</summary>
    public long Remaining => end == long.MaxValue ? long.MaxValue : Math.Max(0, end - position - SHA256.HashSizeInBytes);

    public void ReadExactly(Span<byte> destination, string field)
    {
        int read = stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        if (read < destination.Length) throw new InvalidDataException($"The checkpoint ends inside {field}: it is truncated.");
        hash.AppendData(destination);
        position += read;
    }

    /// <summary>Reads <paramref name="length"/> bytes into the hash only: a buffer nobody keeps.</summary>
    public void Skip(long length, string field)
    {
        byte[] scratch = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long left = length; left > 0; left -= scratch.Length)
                ReadExactly(scratch.AsSpan(0, (int)Math.Min(left, scratch.Length)), field);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    public int ReadInt32(string field)
    {
        ReadExactly(scalar.AsSpan(0, sizeof(int)), field);
        return BinaryPrimitives.ReadInt32LittleEndian(scalar);
    }

    public long ReadInt64(string field)
    {
        ReadExactly(scalar.AsSpan(0, sizeof(long)), field);
        return BinaryPrimitives.ReadInt64LittleEndian(scalar);
    }

    public double ReadDouble(string field)
    {
        ReadExactly(scalar.AsSpan(0, sizeof(double)), field);
        return BinaryPrimitives.ReadDoubleLittleEndian(scalar);
    }

    /// <summary>A count in [0, <paramref name="max"/>], each of whose items takes at least <paramref name="bytesEach"/> of the bytes that remain.</summary>
    public int ReadCount(string field, int max, int bytesEach)
    {
        int count = ReadInt32(field);
        long fits = Remaining / bytesEach;
        if (count < 0 || count > max || count > fits)
            throw new InvalidDataException($"The checkpoint's {field} is {count}; it must be in [0, {Math.Min(max, fits)}] (the limit, and what the bytes left can hold).");
        return count;
    }

    /// <summary>A length in bytes, in [0, the bytes that remain].</summary>
    public long ReadLength(string field)
    {
        long length = ReadInt64(field);
        if (length < 0 || length > Remaining)
            throw new InvalidDataException($"The checkpoint's {field} is {length} bytes; {Math.Min(Remaining, long.MaxValue)} bytes are left before its checksum.");
        return length;
    }

    /// <summary>
    /// <paramref name="length"/> bytes (checked by <see cref="ReadLength"/>, at most <see cref="Array.MaxLength"/>) in a new
    /// array. Where the stream's length is unknown the array grows as the bytes arrive, so a length the stream does not
    /// back costs at most twice the bytes it does.
    /// </summary>
    public byte[] ReadBlock(long length, string field)
    {
        if (end != long.MaxValue)
        {
            byte[] exact = new byte[length];
            ReadExactly(exact, field);
            return exact;
        }
        byte[] bytes = new byte[Math.Min(length, 1 << 20)];
        for (int filled = 0; filled < length;)
        {
            if (filled == bytes.Length) Array.Resize(ref bytes, (int)Math.Min(length, 2L * bytes.Length));
            int count = bytes.Length - filled;
            ReadExactly(bytes.AsSpan(filled, count), field);
            filled += count;
        }
        return bytes;
    }

    /// <summary>A name as <see cref="BinaryWriter.Write(string)"/> writes it: a 7-bit-encoded byte count, then UTF-8 without control characters.</summary>
    public string ReadName(string field)
    {
        int length = 0;
        for (int shift = 0; ; shift += 7)
        {
            ReadExactly(scalar.AsSpan(0, 1), field);
            length |= (scalar[0] & 0x7F) << shift;
            if ((scalar[0] & 0x80) == 0) break;
            if (shift >= 14) throw new InvalidDataException($"The checkpoint's {field} is longer than {MaxNameBytes} bytes.");
        }
        if (length > MaxNameBytes) throw new InvalidDataException($"The checkpoint's {field} is {length} bytes long; names are at most {MaxNameBytes}.");
        byte[] bytes = new byte[length];
        ReadExactly(bytes, field);
        string name;
        try
        {
            name = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"The checkpoint's {field} is not UTF-8.");
        }
        // Names end up in messages: a line break or escape sequence from a file must not.
        if (name.Any(char.IsControl)) throw new InvalidDataException($"The checkpoint's {field} holds a control character.");
        return name;
    }

    /// <summary>Reads the checksum, compares it with the hash of everything read, and checks that nothing follows it.</summary>
    public void VerifyChecksum()
    {
        byte[] expected = hash.GetHashAndReset();
        byte[] stored = new byte[SHA256.HashSizeInBytes];
        if (stream.ReadAtLeast(stored, stored.Length, throwOnEndOfStream: false) < stored.Length)
            throw new InvalidDataException("The checkpoint ends inside its checksum: it is truncated.");
        if (!stored.AsSpan().SequenceEqual(expected))
            throw new InvalidDataException("The checkpoint is truncated or corrupted (checksum mismatch).");
        if (stream.ReadByte() >= 0) throw new InvalidDataException("The checkpoint has bytes after its checksum.");
    }

    public void Dispose() => hash.Dispose();
}
