using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Checkpoints;

public sealed class CheckpointTests : IDisposable
{
    private const int StepsBeforeSave = 5;
    private const int StepsAfterSave = 7;
    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-checkpoint-").FullName;

    private static GradientFilter Create(string kind, Module model) => kind switch
    {
        "ema" => new EmaFilter(model, alpha: 0.9, lamb: 2.0),
        // Saved at step 5 of a window of 10: the window is half full.
        "ma" => new WindowedMeanFilter(model, window_size: 10, lamb: 1.0),
        "kalman" => new KalmanFilter(model),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void RunSavedAndResumed_ContinuesBitForBitLikeTheRunThatNeverStopped(string kind)
    {
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var uninterrupted = TinyMlp.Create();
        using (GradientFilter filter = Create(kind, uninterrupted)) Train(uninterrupted, filter, StepsBeforeSave + StepsAfterSave, x, y);

        using var first = TinyMlp.Create();
        string checkpoint = Path.Combine(folder, $"{kind}.gfst");
        using (GradientFilter filter = Create(kind, first))
        {
            Train(first, filter, StepsBeforeSave, x, y);
            filter.save(checkpoint);
        }
        using var resumed = TinyMlp.Create(seed: 99);
        CopyParameters(first, resumed);
        using (GradientFilter filter = Create(kind, resumed))
        {
            filter.load(checkpoint);
            Assert.Equal(StepsBeforeSave, filter.StepCount);
            Train(resumed, filter, StepsAfterSave, x, y);
        }

        Assert.Equal(TinyMlp.Flatten(uninterrupted.parameters()), TinyMlp.Flatten(resumed.parameters()));

        // The checkpoint carried something: resuming with a fresh filter instead ends elsewhere.
        using var restarted = TinyMlp.Create(seed: 99);
        CopyParameters(first, restarted);
        using (GradientFilter filter = Create(kind, restarted)) Train(restarted, filter, StepsAfterSave, x, y);
        double largest = TinyMlp.Flatten(uninterrupted.parameters()).Zip(TinyMlp.Flatten(restarted.parameters()), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(largest > 1e-4, $"a fresh filter ends within {largest} of the resumed one: the state made no difference");
    }

    [Fact]
    public void FlippedByte_IsRefusedAsCorrupted()
    {
        byte[] file = SavedEma();
        file[file.Length / 2] ^= 0x10;

        var error = Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(file)));
        Assert.Contains("corrupted", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedFile_IsRefused()
    {
        byte[] file = SavedEma();

        Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(file[..(file.Length - 40)])));
        Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(file[..10])));
    }

    [Theory]
    [InlineData(int.MaxValue, "buffer count")]
    [InlineData(-1, "buffer count")]
    public void HostileCountWithAValidChecksum_IsRefusedBeforeAllocating(int count, string named)
    {
        byte[] file = SavedEma();
        // The buffer count sits after the parameters; rewrite it and re-sign the file as a hostile writer would.
        int at = IndexOfBufferCount(file);
        BitConverter.GetBytes(count).CopyTo(file, at);
        System.Security.Cryptography.SHA256.HashData(file.AsSpan(0, file.Length - 32)).CopyTo(file, file.Length - 32);

        var error = Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(file)));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NewerFormatVersion_IsRefusedNamingTheVersion()
    {
        byte[] file = SavedEma();
        BitConverter.GetBytes(GradientFilterState.FormatVersion + 1).CopyTo(file, 4);

        var error = Assert.Throws<InvalidDataException>(() => GradientFilterState.Load(new MemoryStream(file)));
        Assert.Contains($"version {GradientFilterState.FormatVersion + 1}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void StateOfAnotherKind_IsRefusedAndLeavesTheStateUnchanged()
    {
        using var model = TinyMlp.Create();
        GradientFilterState emaState = SteppedState(model, m => new EmaFilter(m));
        using var kalman = Stepped(new KalmanFilter(model), model);

        AssertRefusedUnchanged(kalman, emaState, "ema");
    }

    [Fact]
    public void StateWithOtherHyperparameters_IsRefusedNamingTheHyperparameter()
    {
        using var model = TinyMlp.Create();
        GradientFilterState state = SteppedState(model, m => new EmaFilter(m, alpha: 0.9));
        using var other = Stepped(new EmaFilter(model, alpha: 0.95), model);

        AssertRefusedUnchanged(other, state, "alpha");
    }

    [Fact]
    public void StateOfAnotherModel_IsRefusedNamingTheParameter()
    {
        using var small = Sequential(Linear(7, 5), Linear(5, 3));
        GradientFilterState state = SteppedState(small, m => new EmaFilter(m));
        using var model = TinyMlp.Create();
        using var filter = Stepped(new EmaFilter(model), model);

        AssertRefusedUnchanged(filter, state, "another model");
    }

    [Fact]
    public void StateRoundTripThroughAStream_KeepsEveryField()
    {
        using var model = TinyMlp.Create();
        GradientFilterState state = SteppedState(model, m => new WindowedMeanFilter(m, window_size: 4));
        var stream = new MemoryStream();
        state.Save(stream);

        GradientFilterState read = GradientFilterState.Load(new MemoryStream(stream.ToArray()));

        StateAssert.Same(state, read);
    }

    private static void Train(Module<Tensor, Tensor> model, GradientFilter filter, int steps, Tensor x, Tensor y)
    {
        using var optimizer = torch.optim.SGD(model.parameters(), 0.05);
        for (int step = 0; step < steps; step++)
        {
            TinyMlp.Backward(model, x, y);
            filter.step();
            optimizer.step();
            optimizer.zero_grad();
        }
    }

    private static void CopyParameters(Module from, Module to)
    {
        using var noGrad = torch.no_grad();
        foreach (((string _, var source), (string _, var target)) in from.named_parameters().Zip(to.named_parameters())) target.copy_(source);
    }

    private static T Stepped<T>(T filter, Module<Tensor, Tensor> model) where T : GradientFilter
    {
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        filter.step();
        return filter;
    }

    private static GradientFilterState SteppedState(Module module, Func<Module, GradientFilter> create)
    {
        // Distinct values everywhere, so a save or load that moved elements around would show.
        int seed = 0;
        foreach (var p in module.parameters()) p.grad = torch.tensor(Gradients.Random((int)p.numel(), seed++)).reshape(p.shape);
        using GradientFilter filter = create(module);
        filter.step();
        filter.step();
        return filter.state_dict();
    }

    private static byte[] SavedEma()
    {
        using var model = TinyMlp.Create();
        var stream = new MemoryStream();
        SteppedState(model, m => new EmaFilter(m)).Save(stream);
        return stream.ToArray();
    }

    /// <summary>Where the buffer count is: right before the first buffer's name, "average" for the EMA.</summary>
    private static int IndexOfBufferCount(byte[] file) => file.AsSpan().IndexOf("\u0007average"u8) - sizeof(int);

    private static void AssertRefusedUnchanged(GradientFilter filter, GradientFilterState state, string named)
    {
        GradientFilterState before = filter.state_dict();

        var error = Assert.Throws<ArgumentException>(() => filter.load_state_dict(state));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        GradientFilterState after = filter.state_dict();
        Assert.Equal(before.StepCount, after.StepCount);
        foreach (string name in before.Buffers.Keys) Assert.Equal(before.Buffers[name], after.Buffers[name]);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
