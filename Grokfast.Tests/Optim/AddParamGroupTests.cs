using Grokfast.Filters;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using static TorchSharp.torch.optim;

namespace Grokfast.Tests.Optim;

/// <summary>
/// <see cref="FusedAdamOptimizer.add_param_group"/> after steps: the earlier groups' state carries over bit for bit, and
/// training goes on as TorchSharp's AdamW does when given the group at the same step (with a filter per group, the
/// new group's built then).
/// </summary>
public sealed class AddParamGroupTests
{
    private const int Before = 6;
    private const int After = 60;

    // The linear TinyMlp's parameters W1, b1, W2, b2: the first layer from the start, the second added after Before steps.
    private static readonly int[] First = [0, 1];
    private static readonly int[] Added = [2, 3];

    [Theory]
    [InlineData("none")]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void AddedAfterSteps_TrainsAsAdamWGivenTheGroupThen_WithAFilterPerGroup(string filter)
    {
        float[] fused = Train((parameters, add) =>
        {
            var optimizer = new GrokfastAdamW(First.Select(i => parameters[i]), lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter));
            add(() => optimizer.add_param_group(new FusedAdamOptimizer.ParamGroup(Added.Select(i => parameters[i]), lr: 2e-2, weight_decay: 0.0, lamb: 1.0)));
            return (() => optimizer.step(), optimizer);
        });
        float[] separate = Train((parameters, add) =>
        {
            var filters = new List<GradientFilter?> { SeparatePath.Filter(filter, First.Select(i => parameters[i]), 2.0) };
            var adamw = AdamW(First.Select(i => parameters[i]), lr: 1e-2, weight_decay: 0.1);
            add(() =>
            {
                adamw.add_param_group(new AdamW.ParamGroup(Added.Select(i => parameters[i]), lr: 2e-2, weight_decay: 0.0));
                filters.Add(SeparatePath.Filter(filter, Added.Select(i => parameters[i]), 1.0));
            });
            return (() =>
            {
                foreach (GradientFilter? f in filters) f?.step();
                adamw.step();
            }, new SeparatePath.Owners(() => [.. filters, adamw]));
        });

        // As ParameterGroupTests: libtorch's Adam fuses multiply-adds we round one by one.
        Assert.Equal(separate, fused, (a, b) => Math.Abs(a - b) <= 1e-5f);
    }

    [Fact]
    public void Add_CarriesEveryEarlierBufferAndCountOverBitForBit_AndStartsTheNewGroupFresh()
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        Parameter[] parameters = [.. model.parameters()];
        using var optimizer = new GrokfastAdamW(First.Select(i => parameters[i]), lr: 1e-2, grokfast: GrokfastFilter.Kalman(lamb: 2.0)) { max_grad_norm = 0.5 };
        for (int step = 0; step < Before; step++) Step(model, optimizer, x, y);
        Dictionary<string, float[]> before = optimizer.state().ToDictionary(s => s.Key, s => s.Value.data<float>().ToArray());
        long firstLength = parameters[0].numel() + parameters[1].numel();

        optimizer.add_param_group(new AdamW.ParamGroup(Added.Select(i => parameters[i]), lr: 2e-2));

        Assert.Equal(Before, optimizer.StepCount);
        Assert.Equal(0.5, optimizer.max_grad_norm);
        Assert.Equal(2, optimizer.param_groups.Count);
        foreach ((string name, Tensor state) in optimizer.state())
        {
            float[] now = state.data<float>().ToArray();
            Assert.Equal(before[name], now.Take(before[name].Length));
            // The new group's moments and Kalman estimates start at zero.
            Assert.All(now.Skip((int)firstLength), value => Assert.Equal(0f, value));
        }
        float[] firstLayer = TinyMlp.Flatten(First.Select(i => parameters[i]));
        Step(model, optimizer, x, y);
        Assert.NotEqual(firstLayer, TinyMlp.Flatten(First.Select(i => parameters[i])));
    }

    [Fact]
    public void Add_ThenCheckpoint_ResumesInAnOptimizerBuiltWithBothGroups()
    {
        (Tensor x, Tensor y) = TinyMlp.Data();
        string path = Path.Combine(Path.GetTempPath(), $"add-group-{Guid.NewGuid():N}.gfst");
        try
        {
            float[] atSave, straight;
            using (var model = TinyMlp.CreateLinear())
            {
                Parameter[] parameters = [.. model.parameters()];
                using var optimizer = new GrokfastAdamW(First.Select(i => parameters[i]), lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0));
                for (int step = 0; step < Before; step++) Step(model, optimizer, x, y);
                optimizer.add_param_group(new FusedAdamOptimizer.ParamGroup(Added.Select(i => parameters[i]), weight_decay: 0.0));
                for (int step = 0; step < 4; step++) Step(model, optimizer, x, y);
                optimizer.save(path);
                atSave = TinyMlp.Flatten(parameters);
                for (int step = 0; step < 4; step++) Step(model, optimizer, x, y);
                straight = TinyMlp.Flatten(parameters);
            }

            using var resumedModel = TinyMlp.CreateLinear();
            Parameter[] resumedParameters = [.. resumedModel.parameters()];
            TinyMlp.Load(resumedParameters, atSave);
            using var resumed = new GrokfastAdamW([new FusedAdamOptimizer.ParamGroup(First.Select(i => resumedParameters[i])),
                new FusedAdamOptimizer.ParamGroup(Added.Select(i => resumedParameters[i]))], lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0));
            resumed.load(path);
            Assert.Equal(0.0, resumed.param_groups[1].Options.weight_decay);
            for (int step = 0; step < 4; step++) Step(resumedModel, resumed, x, y);
            Assert.Equal(straight, TinyMlp.Flatten(resumedParameters));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Add_OfAParameterAlreadyInAGroup_IsRefusedByName_AndTheOptimizerStepsOn()
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        Parameter[] parameters = [.. model.parameters()];
        parameters[1].name = "b1";
        using var optimizer = new GrokfastAdamW(First.Select(i => parameters[i]), lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0));
        Step(model, optimizer, x, y);

        var error = Assert.Throws<ArgumentException>(() => optimizer.add_param_group(new FusedAdamOptimizer.ParamGroup([parameters[1], parameters[2]])));
        Assert.Contains("'b1'", error.Message, StringComparison.Ordinal);
        Assert.Single(optimizer.param_groups);
        float[] before = TinyMlp.Flatten(parameters);
        Step(model, optimizer, x, y);
        float[] after = TinyMlp.Flatten(parameters);
        Assert.NotEqual(before.Take(7 * 31 + 31), after.Take(7 * 31 + 31));
        Assert.Equal(before.Skip(7 * 31 + 31), after.Skip(7 * 31 + 31));
    }

    // Every parameter's gradient zeroed, not only the optimizer's (TinyMlp.Step): the second layer joins it later.
    private static void Step(Module<Tensor, Tensor> model, FusedAdamOptimizer optimizer, Tensor x, Tensor y)
    {
        foreach (Parameter p in model.parameters()) p.grad?.zero_();
        TinyMlp.Backward(model, x, y);
        optimizer.step();
    }

    /// <summary>
    /// Trains a fresh linear <see cref="TinyMlp"/> for Before + After steps with the step <paramref name="build"/> gives;
    /// the action it registers adds the second layer's group after Before steps. Returns the weights.
    /// </summary>
    private static float[] Train(Func<Parameter[], Action<Action>, (Action Step, IDisposable Owner)> build)
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        Action add = () => { };
        (Action step, IDisposable owner) = build([.. model.parameters()], a => add = a);
        using (owner)
        {
            for (int i = 0; i < Before + After; i++)
            {
                if (i == Before) add();
                foreach (Parameter p in model.parameters()) p.grad?.zero_();
                TinyMlp.Backward(model, x, y);
                step();
            }
        }
        return TinyMlp.Flatten(model.parameters());
    }
}
