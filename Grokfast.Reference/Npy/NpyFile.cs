using System.Buffers.Binary;
using System.Text;
using static TorchSharp.torch;

namespace Grokfast.Reference.Npy;

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files holding a little-endian float32 or float16 array in C order — the
/// kinds the replay verb and the golden traces use (numpy has no bfloat16). (No maintained .NET library does just this without
/// pulling in a NumPy clone.) Format: magic <c>\x93NUMPY</c>, version, header length, a Python dict
/// literal with <c>descr</c>, <c>fortran_order</c> and <c>shape</c>, padding, then the raw data.
/// </summary>
public static class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The longest header read, as NumPy's own reader limits it by default (a header of a 2-D array is ~120 bytes).</summary>
    public const int MaxHeaderLength = 10_000;

    /// <summary>Reads a float32 array; throws <see cref="InvalidDataException"/> naming what is wrong with any other file.</summary>
    public static (float[] Data, long[] Shape) ReadFloat32(string path)
    {
        (float[] data, long[] shape, ScalarType dtype) = Read(path);
        if (dtype != ScalarType.Float32) throw new InvalidDataException($"{path} holds float16 ('<f2'); only float32 ('<f4') is supported here.");
        return (data, shape);
    }

    /// <summary>
    /// Reads a float32 or float16 array, widened to float32 (exactly, for float16); throws
    /// <see cref="InvalidDataException"/> naming the file and what is wrong with any other file, before allocating
    /// anything the file's size does not back.
    /// </summary>
    public static (float[] Data, long[] Shape, ScalarType Dtype) Read(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Read(stream, path);
    }

    /// <summary>
    /// Reads a float32 or float16 array from the rest of <paramref name="stream"/> (one that can seek, so that its length
    /// is known); <paramref name="path"/> names it in messages. See <see cref="Read(string)"/>.
    /// </summary>
    public static (float[] Data, long[] Shape, ScalarType Dtype) Read(Stream stream, string path)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek) throw new ArgumentException("The stream must be able to seek: its length bounds what is read.", nameof(stream));
        using var reader = new BinaryReader(stream, Encoding.Latin1, leaveOpen: true);
        try
        {
            byte[] magic = reader.ReadBytes(Magic.Length);
            if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{path} is not a .npy file (bad magic).");
            (byte major, byte minor) = (reader.ReadByte(), reader.ReadByte());
            long headerLength = (major, minor) switch
            {
                (1, 0) => reader.ReadUInt16(),
                (2, 0) or (3, 0) => reader.ReadUInt32(),
                _ => throw new InvalidDataException($"{path}: unsupported .npy version {major}.{minor} (1.0, 2.0 and 3.0 are)."),
            };
            if (headerLength > MaxHeaderLength || headerLength > stream.Length - stream.Position)
                throw new InvalidDataException($"{path}: the .npy header claims {headerLength} bytes; the file has {stream.Length - stream.Position} left and headers here are at most {MaxHeaderLength}.");
            // Latin-1 maps every byte to one character, so a byte outside the grammar's ASCII is quoted as it stands.
            NpyHeader header = ParseHeader(Encoding.Latin1.GetString(reader.ReadBytes((int)headerLength)), path);
            ScalarType dtype = header.Descr switch
            {
                "<f4" or "=f4" => ScalarType.Float32,
                "<f2" or "=f2" => ScalarType.Float16,
                _ => throw new InvalidDataException($"{path} holds dtype '{header.Descr}'; only float32 ('<f4') and float16 ('<f2') are supported."),
            };
            if (header.FortranOrder) throw new InvalidDataException($"{path} is in Fortran order; only C order is supported.");
            int size = ElementSize(dtype);
            long payload = stream.Length - stream.Position;
            long count = ElementCount(header.Shape, path);
            if (count > payload / size)
                throw new InvalidDataException($"{path} is truncated: its shape ({string.Join(", ", header.Shape)}) holds {count} values, the file {payload / size}.");
            if (count * size != payload)
                throw new InvalidDataException($"{path} has {payload - count * size} bytes after the {count} values its shape ({string.Join(", ", header.Shape)}) holds.");
            if (count > Array.MaxLength) throw new InvalidDataException($"{path} holds {count} values; at most {Array.MaxLength} are read here.");
            var data = new float[count];
            // In chunks, so that nothing but the result is as large as the file.
            byte[] chunk = new byte[Math.Min(payload, 1 << 20)];
            for (int done = 0; done < data.Length;)
            {
                int values = Math.Min(data.Length - done, chunk.Length / size);
                stream.ReadExactly(chunk, 0, values * size);
                for (int i = 0; i < values; i++)
                {
                    data[done + i] = dtype == ScalarType.Float32
                        ? BinaryPrimitives.ReadSingleLittleEndian(chunk.AsSpan(i * size))
                        : (float)BinaryPrimitives.ReadHalfLittleEndian(chunk.AsSpan(i * size));
                }
                done += values;
            }
            return (data, header.Shape, dtype);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"{path} ends inside the .npy preamble.");
        }
    }

    /// <summary>Writes <paramref name="data"/> as a float32 C-order array of <paramref name="shape"/> (format version 1.0).</summary>
    public static void WriteFloat32(string path, ReadOnlySpan<float> data, IReadOnlyList<long> shape) => Write(path, data, shape, ScalarType.Float32);

    /// <summary>
    /// Writes <paramref name="data"/> as a C-order array of <paramref name="shape"/> in <paramref name="dtype"/> (float32, or
    /// float16 rounded to nearest even), format version 1.0.
    /// </summary>
    public static void Write(string path, ReadOnlySpan<float> data, IReadOnlyList<long> shape, ScalarType dtype)
    {
        int size = ElementSize(dtype);
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Aggregate(1L, (product, d) => product * d) != data.Length)
            throw new ArgumentException($"Shape ({string.Join(", ", shape)}) does not hold {data.Length} elements.", nameof(shape));
        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '{(dtype == ScalarType.Float32 ? "<f4" : "<f2")}', 'fortran_order': False, 'shape': ({dims}), }}";
        // Magic (6) + version (2) + length (2) + header + '\n' is padded with spaces to a multiple of 64.
        int unpadded = Magic.Length + 4 + header.Length + 1;
        header = header.PadRight(header.Length + (64 - unpadded % 64) % 64) + "\n";
        byte[] bytes = new byte[data.Length * size];
        for (int i = 0; i < data.Length; i++)
        {
            if (dtype == ScalarType.Float32) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * size), data[i]);
            else BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * size), (Half)data[i]);
        }
        using FileStream stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write(Magic);
        writer.Write((byte)1);
        writer.Write((byte)0);
        writer.Write((ushort)header.Length);
        writer.Write(Encoding.ASCII.GetBytes(header));
        writer.Write(bytes);
    }

    private static int ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => sizeof(float),
        ScalarType.Float16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "A .npy file here holds float32 or float16."),
    };

    private static NpyHeader ParseHeader(string text, string path)
    {
        try
        {
            return NpyHeader.Parse(text);
        }
        catch (FormatException error)
        {
            throw new InvalidDataException($"{path}: bad .npy header: {error.Message}", error);
        }
    }

    /// <summary>The product of the dimensions, refused when it passes <see cref="long.MaxValue"/> (no file holds that many values).</summary>
    private static long ElementCount(long[] shape, string path)
    {
        long count = 1;
        foreach (long dimension in shape)
        {
            if (dimension != 0 && count > long.MaxValue / dimension)
                throw new InvalidDataException($"{path}: its shape ({string.Join(", ", shape)}) holds more values than any file can.");
            count *= dimension;
        }
        return count;
    }
}
