using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Grokfast.Bench.Npy;

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files holding a little-endian float32 or float16 array in C order — the
/// kinds the replay verb and the golden traces use (numpy has no bfloat16). (No maintained .NET library does just this without
/// pulling in a NumPy clone.) Format: magic <c>\x93NUMPY</c>, version, header length, a Python dict
/// literal with <c>descr</c>, <c>fortran_order</c> and <c>shape</c>, padding, then the raw data.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a float32 array; throws <see cref="InvalidDataException"/> naming what is wrong with any other file.</summary>
    public static (float[] Data, long[] Shape) ReadFloat32(string path)
    {
        (float[] data, long[] shape, ScalarType dtype) = Read(path);
        if (dtype != ScalarType.Float32) throw new InvalidDataException($"{path} holds float16 ('<f2'); only float32 ('<f4') is supported here.");
        return (data, shape);
    }

    /// <summary>
    /// Reads a float32 or float16 array, widened to float32 (exactly, for float16); throws
    /// <see cref="InvalidDataException"/> naming what is wrong with any other file.
    /// </summary>
    public static (float[] Data, long[] Shape, ScalarType Dtype) Read(string path)
    {
        using FileStream stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        byte[] magic = reader.ReadBytes(Magic.Length);
        if (!magic.AsSpan().SequenceEqual(Magic)) throw new InvalidDataException($"{path} is not a .npy file (bad magic).");
        byte major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major switch
        {
            1 => reader.ReadUInt16(),
            2 or 3 => checked((int)reader.ReadUInt32()),
            _ => throw new InvalidDataException($"{path}: unsupported .npy version {major}."),
        };
        string header = Encoding.UTF8.GetString(reader.ReadBytes(headerLength));
        string descr = HeaderValue(DescrPattern(), header, path, "descr");
        ScalarType dtype = descr switch
        {
            "<f4" or "=f4" => ScalarType.Float32,
            "<f2" or "=f2" => ScalarType.Float16,
            _ => throw new InvalidDataException($"{path} holds dtype '{descr}'; only float32 ('<f4') and float16 ('<f2') are supported."),
        };
        int size = ElementSize(dtype);
        if (HeaderValue(FortranPattern(), header, path, "fortran_order") != "False")
            throw new InvalidDataException($"{path} is in Fortran order; only C order is supported.");
        long[] shape = HeaderValue(ShapePattern(), header, path, "shape")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.Parse(d, CultureInfo.InvariantCulture)).ToArray();
        long count = shape.Aggregate(1L, (product, d) => product * d);
        byte[] bytes = reader.ReadBytes(checked((int)(count * size)));
        if (bytes.Length != count * size)
            throw new InvalidDataException($"{path} is truncated: the header promises {count} values, the file holds {bytes.Length / size}.");
        var data = new float[count];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = dtype == ScalarType.Float32
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * size))
                : (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(i * size));
        }
        return (data, shape, dtype);
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

    private static string HeaderValue(Regex pattern, string header, string path, string key)
    {
        Match match = pattern.Match(header);
        return match.Success ? match.Groups[1].Value : throw new InvalidDataException($"{path}: the .npy header has no '{key}'.");
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
