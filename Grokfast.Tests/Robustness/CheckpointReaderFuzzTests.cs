using System.Security.Cryptography;
using CsCheck;
using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Tests.Support;
using static TorchSharp.torch;

namespace Grokfast.Tests.Robustness;

/// <summary>
/// The checkpoint loader on bytes from anywhere: thousands of byte-level mutations of a real checkpoint per run (the
/// same ones every run, see <see cref="Property"/>) — most re-signed with a matching checksum, as a hostile file would
/// be — each either loads a state that accounts for every byte of the file or throws <see cref="InvalidDataException"/>;
/// and the committed corpus of hostile files, each with a valid checksum.
/// </summary>
public sealed class CheckpointReaderFuzzTests
{
    private const int Iterations = 20_000;

    private static readonly Lazy<byte[]> Saved = new(() =>
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using var filter = new KalmanFilter(model);
        filter.step();
        var stream = new MemoryStream();
        filter.state_dict().Save(stream);
        return stream.ToArray();
    });

    private static readonly Gen<byte[]> MutatedFiles =
        from kind in Gen.Int[0, 3]
        from at in Gen.Int[0, Saved.Value.Length - 1]
        from junk in Gen.Byte.Array[1, 16]
        from extreme in Gen.OneOf(0L, -1L, 1L, int.MaxValue, int.MinValue, long.MaxValue, long.MinValue, 0x7F, 0x80)
        from resign in Gen.Int[0, 9]
        select Mutate(Saved.Value, kind, at, junk, extreme, resign > 0);

    [Fact]
    public void Load_OfMutatedCheckpoints_LoadsAWholeSignedStateOrThrowsInvalidData() =>
        Property.Check(MutatedFiles, bytes =>
        {
            GradientFilterState state;
            try
            {
                state = GradientFilterState.Load(new MemoryStream(bytes));
            }
            catch (InvalidDataException error)
            {
                Assert.DoesNotContain('\n', error.Message);
                return;
            }
            // What loads was signed: its last 32 bytes are the SHA-256 of the rest.
            Assert.Equal(SHA256.HashData(bytes.AsSpan(0, bytes.Length - SHA256.HashSizeInBytes)), bytes[^SHA256.HashSizeInBytes..]);
            // And it accounts for every byte: saved again, the state makes a file of the same length (the format's order
            // may differ) that loads to the same state.
            var again = new MemoryStream();
            state.Save(again);
            Assert.Equal(bytes.Length, again.Length);
            again.Position = 0;
            StateAssert.Same(state, GradientFilterState.Load(again));
            Assert.All(state.Parameters, p => Assert.All(p.Shape, d => Assert.True(d >= 0)));
            Assert.True(state.StepCount >= 0);
        }, Iterations, bytes => bytes);

    [Fact]
    public void Load_OfTheUnmutatedCheckpoint_Loads() =>
        Assert.Equal("kalman", GradientFilterState.Load(new MemoryStream(Saved.Value)).Kind);

    public static TheoryData<string> Corpus =>
        new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Corpus", "checkpoints"), "*.gfst").Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Load_OfEachHostileFileInTheCorpus_ThrowsInvalidData(string name)
    {
        using FileStream file = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "Corpus", "checkpoints", name));

        InvalidDataException error = Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(file));

        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Load_FromAStreamThatCannotSeek_OfABufferItDoesNotBack_ThrowsWithoutAllocatingItsLength()
    {
        byte[] file = (byte[])Saved.Value.Clone();
        // The first buffer's length field, claiming 2 GiB - 64 in a file of a few kB.
        int at = file.AsSpan().IndexOf("\u000bcovariances"u8) + 12;
        BitConverter.GetBytes((long)Array.MaxLength - 64).CopyTo(file.AsSpan(at));
        long before = GC.GetAllocatedBytesForCurrentThread();

        Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new ForwardOnlyStream(file)));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16L << 20, "the claimed length was allocated");
    }

    /// <summary>A stream that reads forward only and does not know its length, as a network stream.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }

    private static byte[] Mutate(byte[] file, int kind, int at, byte[] junk, long extreme, bool resign)
    {
        byte[] bytes = kind switch
        {
            0 => [.. file[..at], .. junk.Take(file.Length - at), .. file[Math.Min(file.Length, at + junk.Length)..]], // overwrite
            1 => file[..at], // truncate
            2 => [.. file[..at], .. junk, .. file[at..]], // splice
            _ => [.. file[..at], .. BitConverter.GetBytes(extreme).Take(file.Length - at), .. file[Math.Min(file.Length, at + sizeof(long))..]], // a field set to an extreme
        };
        if (resign && bytes.Length >= SHA256.HashSizeInBytes)
            SHA256.HashData(bytes.AsSpan(0, bytes.Length - SHA256.HashSizeInBytes)).CopyTo(bytes, bytes.Length - SHA256.HashSizeInBytes);
        return bytes;
    }
}
