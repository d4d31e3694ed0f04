using System.Security.Cryptography;
using System.Text;
using Grokfast.Checkpoints;

namespace Grokfast.Tests.Checkpoints;

/// <summary>
/// The checkpoint reader's bounds, each on a hand-made file with a valid checksum that only that bound refuses: a count
/// under its limit but more than the bytes left can hold, a version-1 buffer longer than the bytes left (refused before
/// anything is allocated for it), and names at exactly the length limit and one byte past it.
/// </summary>
public sealed class CheckpointBoundsTests
{
    /// <summary>The longest name a checkpoint may hold, in UTF-8 bytes (docs/guides/checkpoints.md).</summary>
    private const int MaxNameBytes = 4096;

    [Fact]
    public void Load_OfAHyperparameterCountUnderItsLimitThatTheBytesLeftCannotHold_IsRefusedNamingTheBound()
    {
        // 40 hyperparameters (the limit is 64) need at least 360 bytes; the file has a few dozen after the count.
        byte[] file = Signed(w =>
        {
            Header(w, version: 2, kind: "ema");
            w.Write(40);
            w.Write("alpha");
            w.Write(0.9);
        });

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(file)));

        Assert.Contains("hyperparameter count is 40", error.Message, StringComparison.Ordinal);
        Assert.Contains("what the bytes left can hold", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfAParameterCountThatTheBytesLeftCannotHold_IsRefusedBeforeReadingAnyParameter()
    {
        byte[] file = Signed(w =>
        {
            Header(w, version: 2, kind: "ema");
            w.Write(0); // no hyperparameters
            w.Write(0L); // steps
            w.Write(1_000_000);
            w.Write(new byte[64]);
        });

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(file)));

        Assert.Contains("parameter count is 1000000", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_OfAVersion1BufferLongerThanTheBytesLeft_IsRefusedWithoutAllocatingIt()
    {
        byte[] file = Signed(w =>
        {
            Header(w, version: 1, kind: "ema");
            w.Write(0);
            w.Write(0L);
            w.Write(0);
            w.Write(1); // one buffer, claiming 1 GiB in a file of a few dozen bytes
            w.Write("average");
            w.Write(1L << 30);
            w.Write(new byte[16]);
        });
        long before = GC.GetAllocatedBytesForCurrentThread();

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(file)));

        Assert.Contains("buffer 'average' is 1073741824 bytes", error.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16L << 20, "the claimed length was allocated");
    }

    [Fact]
    public void Load_OfNamesAtTheLengthLimit_LoadsAndOneBytePast_IsRefused()
    {
        string longest = new('k', MaxNameBytes);
        // A three-byte character at the end: the limit counts UTF-8 bytes, not characters.
        string past = new string('k', MaxNameBytes - 2) + "€";

        Assert.Equal(longest, GradientFilterState.Load(new MemoryStream(EmptyState(longest))).Kind);
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(EmptyState(past))));
        Assert.Contains($"is {MaxNameBytes + 1} bytes long; names are at most {MaxNameBytes}", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A whole version-2 state of kind <paramref name="kind"/> with nothing in it.</summary>
    private static byte[] EmptyState(string kind) => Signed(w =>
    {
        Header(w, version: 2, kind);
        w.Write(0); // hyperparameters
        w.Write(0L); // steps
        w.Write(0); // parameters
        w.Write(0); // buffers
    });

    private static void Header(BinaryWriter w, int version, string kind)
    {
        w.Write("GFST"u8);
        w.Write(version);
        w.Write(kind); // 7-bit length, then UTF-8: the format's names
    }

    /// <summary>The bytes <paramref name="write"/> makes, followed by their SHA-256, as the format ends.</summary>
    private static byte[] Signed(Action<BinaryWriter> write)
    {
        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true)) write(writer);
        byte[] body = stream.ToArray();
        return [.. body, .. SHA256.HashData(body)];
    }
}
