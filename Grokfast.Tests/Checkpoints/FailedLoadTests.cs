using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using static TorchSharp.torch;

namespace Grokfast.Tests.Checkpoints;

/// <summary>
/// A load that fails at any point — a file cut short, a byte flipped, a read error, a file that changes while it is read,
/// a checkpoint that does not fit — leaves the filter's or optimizer's state, step counts, hyperparameters and the model's
/// parameters bit for bit as they were; the same checkpoint whole then loads. On a model of bfloat16, float32 and float16
/// parameters, so the optimizer's master weights and the Kalman filter's host-side covariances are among the state.
/// </summary>
public sealed class FailedLoadTests : IDisposable
{
    private static readonly ScalarType[] Dtypes = MixedDtypes.Mixed;

    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-failed-load-").FullName;

    /// <summary>What a test loads into: a filter or a fused optimizer over its own model.</summary>
    private sealed class Subject : IDisposable
    {
        private readonly GradientFilter? filter;
        private readonly FusedAdamOptimizer? optimizer;
        private int steps;

        public Subject(string kind, double lamb = 2)
        {
            Model = new DtypeModule(MixedDtypes.Shapes, Dtypes);
            MixedDtypes.SetValues(Model, Dtypes);
            if (kind == "adamw+kalman")
            {
                optimizer = new GrokfastAdamW(Model, lr: 1e-2, grokfast: GrokfastFilter.Kalman(lamb: lamb));
                return;
            }
            filter = kind switch
            {
                "ema" => new EmaFilter(Model, alpha: 0.9, lamb: lamb),
                "ma" => new WindowedMeanFilter(Model, window_size: 4, lamb: lamb),
                "kalman" => new KalmanFilter(Model, lamb: lamb),
                _ => throw new ArgumentOutOfRangeException(nameof(kind)),
            };
        }

        public DtypeModule Model { get; }

        public void Step(int count)
        {
            for (int i = 0; i < count; i++, steps++)
            {
                MixedDtypes.SetGradients(Model, Dtypes, steps);
                if (filter is not null) filter.step();
                else optimizer!.step();
            }
        }

        public void Save(string path)
        {
            if (filter is not null) filter.save(path);
            else optimizer!.save(path);
        }

        public void Load(Stream stream)
        {
            if (filter is not null) filter.load(stream);
            else optimizer!.load(stream);
        }

        /// <summary>Everything a load may change: the state (buffers, counts, hyperparameters, Adam's among them) and the parameters.</summary>
        public (GradientFilterState State, byte[][] Parameters) Snapshot() =>
            (filter?.state_dict() ?? optimizer!.checkpoint(), Enumerable.Range(0, MixedDtypes.Shapes.Length).Select(Model.ValueBytes).ToArray());

        public void Dispose()
        {
            filter?.Dispose();
            optimizer?.Dispose();
            Model.Dispose();
        }
    }

    public static TheoryData<string> Kinds => new("ema", "ma", "kalman", "adamw+kalman");

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Load_OfAFileCutShortAnywhere_ThrowsAndLeavesEverythingAsItWas(string kind) =>
        AssertEveryFailureLeavesTheStateAsItWas(kind, (file, at) =>
        {
            // Cut short on disk (refused by its length before any buffer is read) and in a pipe (met inside a buffer).
            Assert.Throws<InvalidDataException>(() => Load(file[..at]));
            Assert.Throws<InvalidDataException>(() => Load(new ForwardOnlyStream(file[..at])));
        });

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Load_OfAFileWithAByteFlippedAnywhere_ThrowsAndLeavesEverythingAsItWas(string kind) =>
        AssertEveryFailureLeavesTheStateAsItWas(kind, (file, at) =>
        {
            byte[] flipped = (byte[])file.Clone();
            flipped[at] ^= 0x21;
            Assert.Throws<InvalidDataException>(() => Load(flipped));
        });

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Load_ThatMeetsAReadErrorAnywhere_ThrowsItAndLeavesEverythingAsItWas(string kind) =>
        AssertEveryFailureLeavesTheStateAsItWas(kind, (file, at) => Assert.Throws<IOException>(() => Load(new ForwardOnlyStream(file, failAt: at))));

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Load_OfAFileOverwrittenWithAnotherCheckpointWhileItIsRead_ThrowsAndLeavesEverythingAsItWas(string kind) =>
        AssertEveryFailureLeavesTheStateAsItWas(kind, (file, at) =>
        {
            // The file on disk changes under the reader: from byte `from` on it is a later checkpoint of the same run. Up to
            // their first difference the two files are one, and a file overwritten before it is just the later one.
            int from = Math.Max(at, file.AsSpan().CommonPrefixLength(Later) + 1);
            if (file.AsSpan(from).SequenceEqual(Later.AsSpan(from))) return;
            string path = Path.Combine(folder, "changing.gfst");
            File.WriteAllBytes(path, file);
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            Assert.Throws<InvalidDataException>(() => Load(new OverwritingStream(stream, path, Later, from)));
        });

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Load_OfACheckpointOfOtherHyperparameters_ThrowsAndLeavesEverythingAsItWas(string kind)
    {
        string path = Path.Combine(folder, "other.gfst");
        using (var other = new Subject(kind, lamb: 3))
        {
            other.Step(2);
            other.Save(path);
        }
        using var subject = new Subject(kind);
        subject.Step(3);
        var before = subject.Snapshot();

        using (FileStream file = File.OpenRead(path)) Assert.Throws<ArgumentException>(() => subject.Load(file));

        AssertSame(before, subject.Snapshot());
    }

    private Subject? current;

    private byte[] Later { get; set; } = [];

    private void Load(byte[] file) => current!.Load(new MemoryStream(file));

    private void Load(Stream stream) => current!.Load(stream);

    /// <summary>
    /// Saves at step 3 (and at step 7, <see cref="Later"/>), steps on to 5, then makes <paramref name="failingLoad"/> fail
    /// at offsets spread over the whole file, header, buffers and checksum, checking after each that nothing moved; then
    /// loads the file whole and finds the state saved at step 3.
    /// </summary>
    private void AssertEveryFailureLeavesTheStateAsItWas(string kind, Action<byte[], int> failingLoad)
    {
        string path = Path.Combine(folder, "saved.gfst"), later = Path.Combine(folder, "later.gfst");
        using var subject = current = new Subject(kind);
        subject.Step(3);
        subject.Save(path);
        var saved = subject.Snapshot();
        subject.Step(2);
        var before = subject.Snapshot();
        using (var ahead = new Subject(kind))
        {
            ahead.Step(7);
            ahead.Save(later);
        }
        byte[] file = File.ReadAllBytes(path);
        Later = File.ReadAllBytes(later);
        Assert.Equal(file.Length, Later.Length);

        const int Points = 24;
        int[] offsets = [.. Enumerable.Range(0, Points).Select(i => (int)((long)file.Length * i / Points)), file.Length - 33, file.Length - 1];
        foreach (int at in offsets.Distinct())
        {
            failingLoad(file, at);
            AssertSame(before, subject.Snapshot());
        }

        // The file whole loads: the state is the one saved (the float32 parameters are the model's to save, not in it).
        Load(file);
        StateAssert.Same(saved.State, subject.Snapshot().State);
    }

    private static void AssertSame((GradientFilterState State, byte[][] Parameters) expected, (GradientFilterState State, byte[][] Parameters) actual)
    {
        StateAssert.Same(expected.State, actual.State);
        Assert.Equal(expected.Parameters, actual.Parameters);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>
    /// Reads <paramref name="bytes"/> forward only, as from a pipe or a socket (no length to check a file's sizes against
    /// before reading them), and throws an <see cref="IOException"/> once a read reaches byte <paramref name="failAt"/>.
    /// </summary>
    private sealed class ForwardOnlyStream(byte[] bytes, int failAt = int.MaxValue) : MemoryStream(bytes, writable: false)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            FailIfReaching(buffer.Length);
            return base.Read(buffer);
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            FailIfReaching(count);
            return base.Read(buffer, offset, count);
        }

        private void FailIfReaching(int count)
        {
            if (base.Position + count > failAt) throw new IOException($"Simulated read error at byte {failAt}.");
        }
    }

    /// <summary>
    /// Reads a file on disk and, once a read passes byte <paramref name="from"/>, overwrites the rest of the file with the
    /// bytes of <paramref name="replacement"/> there, as another process saving over it would.
    /// </summary>
    private sealed class OverwritingStream(FileStream inner, string path, byte[] replacement, int from) : Stream
    {
        private bool overwritten;

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            // Up to `from`, then past it once the file has changed.
            int read = inner.Read(inner.Position < from ? buffer[..(int)Math.Min(buffer.Length, from - inner.Position)] : buffer);
            if (!overwritten && inner.Position >= from)
            {
                overwritten = true;
                using var writer = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                writer.Position = from;
                writer.Write(replacement.AsSpan(from));
            }
            return read;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
