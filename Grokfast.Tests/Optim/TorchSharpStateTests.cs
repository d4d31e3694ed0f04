using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Optim;

/// <summary>
/// The fused optimizers in TorchSharp's optimizer-state shape: <c>state_dict()</c> lists each group's options and each
/// parameter's state (views of the flat buffers), and <c>load_state_dict</c> — in memory or through TorchSharp's
/// <c>save_state_dict</c> file — resumes training bit for bit.
/// </summary>
public sealed class TorchSharpStateTests
{
    private const int Steps = 6;

    // The linear TinyMlp's W1, b1, W2, b2: weights with decay, biases without.
    private static readonly int[][] Groups = [[0, 2], [1, 3]];

    [Theory]
    [InlineData("none")]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void StateDict_ListsEachGroupsOptionsAndEachParametersState_AsViewsOfTheFlatBuffers(string filter)
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        Parameter[] parameters = [.. model.parameters()];
        using GrokfastAdamW optimizer = Create(parameters, filter);
        for (int step = 0; step < Steps; step++) TinyMlp.Step(model, optimizer, x, y);

        torch.optim.Optimizer.StateDictionary dict = optimizer.state_dict();

        Assert.Equal([0.1, 0.0], dict.Options.Select(o => ((FusedAdamOptimizer.Options)o).weight_decay!.Value));
        Assert.Equal([[0, 1], [2, 3]], dict.StateIndexRef);
        int[] order = [.. Groups.SelectMany(g => g)];
        IReadOnlyDictionary<string, Tensor> flat = optimizer.state();
        for (int i = 0; i < order.Length; i++)
        {
            var state = (FusedAdamOptimizer.ParameterState)dict.State[i];
            Parameter p = parameters[order[i]];
            Assert.Equal(Steps, state.step);
            Assert.Equal(filter == "none" ? 0 : Steps, state.grokfast_step);
            Assert.Equal(p.shape, state.exp_avg.shape);
            Assert.Equal(FlatPart(flat["exp_avg"], parameters, order, i), state.exp_avg.data<float>().ToArray());
            Assert.Equal(filter == "kalman", state.covariance is not null);
            Assert.Equal(filter switch { "none" => 0, "ma" => 6, _ => 1 }, state.grokfast_state.Count);
        }

        // Live views: a write through the state is the optimizer's state.
        var first = (FusedAdamOptimizer.ParameterState)dict.State[0];
        using (torch.no_grad()) first.exp_avg.fill_(0.25f);
        using Tensor moments = optimizer.state()["exp_avg"];
        Assert.All(moments.data<float>().Take((int)parameters[0].numel()), m => Assert.Equal(0.25f, m));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void LoadStateDict_IntoAFreshOptimizer_ResumesBitForBit_InMemoryAndThroughTorchSharpsFile(string filter)
    {
        (Tensor x, Tensor y) = TinyMlp.Data();
        string path = Path.Combine(Path.GetTempPath(), $"torchsharp-state-{Guid.NewGuid():N}.bin");
        try
        {
            using var model = TinyMlp.CreateLinear();
            Parameter[] parameters = [.. model.parameters()];
            using GrokfastAdamW optimizer = Create(parameters, filter);
            for (int step = 0; step < Steps; step++) TinyMlp.Step(model, optimizer, x, y);
            float[] atSave = TinyMlp.Flatten(parameters);
            optimizer.save_state_dict(path);

            using var inMemory = TinyMlp.CreateLinear();
            using var fromFile = TinyMlp.CreateLinear();
            Parameter[] memoryParameters = [.. inMemory.parameters()], fileParameters = [.. fromFile.parameters()];
            TinyMlp.Load(memoryParameters, atSave);
            TinyMlp.Load(fileParameters, atSave);
            using GrokfastAdamW memoryOptimizer = Create(memoryParameters, filter), fileOptimizer = Create(fileParameters, filter);
            memoryOptimizer.load_state_dict(optimizer.state_dict());
            fileOptimizer.load_state_dict(path);

            for (int step = 0; step < Steps; step++)
            {
                TinyMlp.Step(model, optimizer, x, y);
                TinyMlp.Step(inMemory, memoryOptimizer, x, y);
                TinyMlp.Step(fromFile, fileOptimizer, x, y);
            }
            float[] straight = TinyMlp.Flatten(parameters);
            Assert.NotEqual(atSave, straight);
            Assert.Equal(straight, TinyMlp.Flatten(memoryParameters));
            Assert.Equal(straight, TinyMlp.Flatten(fileParameters));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void LoadStateDict_OfAnotherFilter_IsRefused_AndChangesNothing()
    {
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var model = TinyMlp.CreateLinear();
        Parameter[] parameters = [.. model.parameters()];
        using GrokfastAdamW kalman = Create(parameters, "kalman");
        TinyMlp.Step(model, kalman, x, y);
        using var other = TinyMlp.CreateLinear();
        using GrokfastAdamW ema = Create([.. other.parameters()], "ema");
        ((FusedAdamOptimizer.Options)ema.param_groups[0].Options).weight_decay = 0.3;

        Assert.Throws<ArgumentException>(() => ema.load_state_dict(kalman.state_dict()));
        Assert.Equal(0.3, ema.param_groups[0].Options.weight_decay);
        Assert.All(ema.state_dict().State, s => Assert.Equal(0, ((FusedAdamOptimizer.ParameterState)s).step));
    }

    [Fact]
    public void To_TheParametersDevice_IsANoOp_AndAnotherDeviceIsRefused()
    {
        using var model = TinyMlp.CreateLinear();
        using GrokfastAdamW optimizer = Create([.. model.parameters()], "ema");

        optimizer.to(torch.CPU);
        var error = Assert.Throws<NotSupportedException>(() => optimizer.to(new Device(DeviceType.META)));
        Assert.Contains("load a checkpoint", error.Message, StringComparison.Ordinal);
    }

    private static GrokfastAdamW Create(Parameter[] parameters, string filter) => new(
        Groups.Select((m, g) => new FusedAdamOptimizer.ParamGroup(m.Select(i => parameters[i]), weight_decay: g == 0 ? 0.1 : 0.0)),
        lr: 1e-2, grokfast: FusedAdamTrainingTests.Choice(filter));

    private static float[] FlatPart(Tensor flat, Parameter[] parameters, int[] order, int i)
    {
        long start = order.Take(i).Sum(j => parameters[j].numel());
        return flat.data<float>().Skip((int)start).Take((int)parameters[order[i]].numel()).ToArray();
    }
}
