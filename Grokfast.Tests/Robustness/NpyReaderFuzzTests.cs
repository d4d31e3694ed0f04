using System.Buffers.Binary;
using System.Text;
using CsCheck;
using Grokfast.Reference.Npy;
using Grokfast.Tests.Support;
using static TorchSharp.torch;

namespace Grokfast.Tests.Robustness;

/// <summary>
/// The .npy reader on bytes from anywhere: thousands of generated headers and byte-level mutations of valid files per
/// run (the same ones every run, see <see cref="Property"/>), each either read correctly or refused with
/// <see cref="InvalidDataException"/>; and the committed corpus of files that once got past the reader or crashed it.
/// </summary>
public sealed class NpyReaderFuzzTests
{
    private const int Iterations = 20_000;

    /// <summary>A valid file as NumPy (or a hand-writing user) might lay it out, with the values and shape it holds.</summary>
    private sealed record NpyCase(byte[] Bytes, float[] Values, long[] Shape, ScalarType Dtype);

    private static readonly Gen<string> Space = Gen.OneOf("", " ", "  ", "\n ", "\t");

    private static readonly Gen<NpyCase> ValidFiles =
        from dims in Gen.Int[0, 3].SelectMany(rank => Gen.Int[0, 5].Array[rank])
        from half in Gen.Bool
        from quote in Gen.OneOf("'", "\"")
        from order in Gen.Int[0, 5]
        from spaces in Space.Array[8]
        from trailingComma in Gen.Bool
        from version in Gen.OneOf((byte)1, (byte)2, (byte)3)
        from seed in Gen.Int
        select Build(dims.Select(d => (long)d).ToArray(), half ? ScalarType.Float16 : ScalarType.Float32, quote, order, spaces, trailingComma, version, seed);

    [Fact]
    public void Read_OfGeneratedValidFiles_GivesTheirValuesAndShape() =>
        Property.Check(ValidFiles, file =>
        {
            (float[] data, long[] shape, ScalarType dtype) = NpyFile.Read(new MemoryStream(file.Bytes), "generated.npy");

            Assert.Equal(file.Shape, shape);
            Assert.Equal(file.Dtype, dtype);
            Assert.Equal(file.Values, data);
        }, Iterations, file => file.Bytes);

    /// <summary>Flips, truncations, splices and extreme length fields applied to valid files.</summary>
    private static readonly Gen<byte[]> MutatedFiles =
        from file in ValidFiles
        from kind in Gen.Int[0, 4]
        from at in Gen.Int[0, file.Bytes.Length]
        from junk in Gen.Byte.Array[1, 16]
        from extreme in Gen.OneOf(0u, 1u, 0x7FFFu, 0xFFFFu, 0x7FFF_FFFFu, 0xFFFF_FFFFu)
        select Mutate(file.Bytes, kind, at, junk, extreme);

    [Fact]
    public void Read_OfMutatedFiles_ReadsWhatTheFileHoldsOrThrowsInvalidData() =>
        Property.Check(MutatedFiles, bytes =>
        {
            float[] data;
            long[] shape;
            ScalarType dtype;
            try
            {
                (data, shape, dtype) = NpyFile.Read(new MemoryStream(bytes), "mutated.npy");
            }
            catch (InvalidDataException error)
            {
                Assert.StartsWith("mutated.npy", error.Message, StringComparison.Ordinal);
                Assert.DoesNotContain('\n', error.Message);
                return;
            }
            // A file that reads is a whole .npy file: its shape holds the values read, and they are exactly the bytes
            // after its header, to the last byte.
            Assert.Equal(shape.Aggregate(1L, (p, d) => p * d), data.LongLength);
            Assert.Equal(data, Payload(bytes, dtype));
        }, Iterations, bytes => bytes);

    [Fact]
    public void Read_OfAValidFileWithAByteAfterItsValues_ThrowsInvalidDataNamingTheExtraByte()
    {
        byte[] file = [.. Build([2, 3], ScalarType.Float32, "'", 0, Enumerable.Repeat("", 8).ToArray(), false, 1, seed: 7).Bytes, 0];

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => NpyFile.Read(new MemoryStream(file), "padded.npy"));

        Assert.Contains("1 bytes after the 6 values", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The values after a file's header, decoded as its dtype, whatever the header says of their count.</summary>
    private static float[] Payload(byte[] file, ScalarType dtype)
    {
        bool version1 = file[6] == 1;
        long headerLength = version1 ? BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8)) : BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(8));
        int start = checked((int)(8 + (version1 ? 2 : 4) + headerLength));
        ReadOnlySpan<byte> payload = file.AsSpan(start);
        return dtype == ScalarType.Float32
            ? Enumerable.Range(0, payload.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(file.AsSpan(start + 4 * i))).ToArray()
            : Enumerable.Range(0, payload.Length / 2).Select(i => (float)BinaryPrimitives.ReadHalfLittleEndian(file.AsSpan(start + 2 * i))).ToArray();
    }

    public static TheoryData<string> Corpus =>
        new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus", "npy"), "*.npy").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Read_OfEachFileInTheCorpus_ThrowsInvalidDataNamingIt(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Corpus", "npy", name);

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => NpyFile.Read(path));

        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }

    private static NpyCase Build(long[] shape, ScalarType dtype, string quote, int order, string[] spaces, bool trailingComma, byte version, int seed)
    {
        var random = new Random(seed);
        long count = shape.Aggregate(1L, (p, d) => p * d);
        float[] values = Enumerable.Range(0, (int)count)
            .Select(_ => (float)(random.NextDouble() * 200 - 100))
            .Select(v => dtype == ScalarType.Float16 ? (float)(Half)v : v).ToArray();
        string Key(string name) => $"{spaces[0]}{quote}{name}{quote}{spaces[1]}:{spaces[2]}";
        string dims = shape.Length == 1 ? $"{shape[0]},{spaces[3]}" : string.Join($",{spaces[3]}", shape) + (trailingComma && shape.Length > 0 ? "," : "");
        string[] entries =
        [
            Key("descr") + $"{quote}{(dtype == ScalarType.Float32 ? "<f4" : "<f2")}{quote}",
            Key("fortran_order") + "False",
            Key("shape") + $"({spaces[4]}{dims}{spaces[5]})",
        ];
        // One of the six orders of the three entries.
        int[] permutation = order switch { 0 => [0, 1, 2], 1 => [0, 2, 1], 2 => [1, 0, 2], 3 => [1, 2, 0], 4 => [2, 0, 1], _ => [2, 1, 0] };
        string header = "{" + string.Join(",", permutation.Select(i => entries[i])) + (trailingComma ? $",{spaces[6]}" : "") + "}" + spaces[7] + "\n";
        var bytes = new List<byte>([0x93, .. "NUMPY"u8, version, 0]);
        byte[] length = new byte[version == 1 ? 2 : 4];
        if (version == 1) BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)header.Length);
        bytes.AddRange(length);
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        foreach (float v in values)
        {
            byte[] value = new byte[dtype == ScalarType.Float32 ? 4 : 2];
            if (dtype == ScalarType.Float32) BinaryPrimitives.WriteSingleLittleEndian(value, v);
            else BinaryPrimitives.WriteHalfLittleEndian(value, (Half)v);
            bytes.AddRange(value);
        }
        return new NpyCase(bytes.ToArray(), values, shape, dtype);
    }

    private static byte[] Mutate(byte[] file, int kind, int at, byte[] junk, uint extreme)
    {
        byte[] bytes = (byte[])file.Clone();
        switch (kind)
        {
            case 0 when bytes.Length > 0: // overwrite bytes from a position
                for (int i = 0; i < junk.Length && at + i < bytes.Length; i++) bytes[at + i] = junk[i];
                return bytes;
            case 1: // truncate
                return bytes[..at];
            case 2: // splice junk in
                return [.. bytes[..at], .. junk, .. bytes[at..]];
            case 3: // the header length field set to an extreme, in either layout
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)extreme);
                if (bytes[6] != 1) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), extreme);
                return bytes;
            default: // a dimension's digits replaced by a huge number
                string text = Encoding.Latin1.GetString(bytes);
                int digit = text.IndexOfAny("0123456789".ToCharArray(), Math.Min(at, text.Length));
                int shape = text.IndexOf("shape", StringComparison.Ordinal);
                if (digit < 0 || digit < shape || digit > text.IndexOf('}')) return bytes;
                return Encoding.Latin1.GetBytes(text[..digit] + extreme + "000000000000" + text[(digit + 1)..]);
        }
    }
}
