using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using static TorchSharp.torch.optim;

namespace Grokfast.Tests.Optim;

/// <summary>
/// The fused optimizers' parameter groups and Grokfast controls against the separate path: a filter per filtered group
/// (with that group's lamb), then TorchSharp's Adam or AdamW with the same groups and the same schedule.
/// </summary>
public sealed class ParameterGroupTests
{
    private const int Steps = 120;

    // The linear TinyMlp's parameters in module order: W1 [31, 7], b1 [31], W2 [3, 31], b2 [3].
    private static readonly int[][] TwoGroups = [[0, 2], [1, 3]];
    private static readonly int[][] ThreeGroups = [[0], [1, 3], [2]];

    // Per group: lr, beta1, beta2, eps, weight decay, lamb (NaN: not filtered).
    private static readonly (double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, double Lamb)[] TwoOptions =
        [(1e-2, 0.9, 0.98, 1e-8, 0.1, 2.0), (1e-2, 0.9, 0.98, 1e-8, 0.0, 2.0)];
    private static readonly (double Lr, double Beta1, double Beta2, double Eps, double WeightDecay, double Lamb)[] ThreeOptions =
        [(1e-2, 0.9, 0.98, 1e-8, 0.1, 2.0), (5e-3, 0.9, 0.999, 1e-8, 0.0, double.NaN), (2e-2, 0.8, 0.95, 1e-6, 0.05, 1.0)];

    public static TheoryData<string, bool, int> Cases()
    {
        var data = new TheoryData<string, bool, int>();
        foreach (string filter in new[] { "none", "ema", "ma", "kalman" })
        {
            data.Add(filter, filter != "ma", 2);
            data.Add(filter, filter == "ma", 3);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Groups_Over120StepsWithASchedule_MatchAFilterPerGroupThenTorchSharpsAdamWithTheSameGroups(string filter, bool decoupled, int groupCount)
    {
        int[][] members = groupCount == 2 ? TwoGroups : ThreeGroups;
        var options = groupCount == 2 ? TwoOptions : ThreeOptions;
        // A warm-up then a decay, as a training script would schedule it; each group's rate scales from its own.
        Func<int, double> schedule = step => step < 10 ? (step + 1) / 10.0 : 0.5 * (1 + Math.Cos(Math.PI * (step - 10) / (Steps - 10)));
        var fusedRates = new List<double[]>();

        float[] fused = Train((model, parameters) =>
        {
            var groups = members.Select((m, g) => new FusedAdamOptimizer.ParamGroup(m.Select(i => parameters[i]), options[g].Lr, options[g].Beta1,
                options[g].Beta2, options[g].Eps, options[g].WeightDecay, double.IsNaN(options[g].Lamb) ? null : options[g].Lamb,
                grokfast: !double.IsNaN(options[g].Lamb))).ToArray();
            FusedAdamOptimizer optimizer = decoupled
                ? new GrokfastAdamW(groups, grokfast: FusedAdamTrainingTests.Choice(filter))
                : new GrokfastAdam(groups, grokfast: FusedAdamTrainingTests.Choice(filter));
            var scheduler = lr_scheduler.LambdaLR(optimizer, schedule);
            return (optimizer.zero_grad, () =>
            {
                optimizer.step();
                scheduler.step();
                fusedRates.Add(optimizer.ParamGroups.Select(g => g.LearningRate).ToArray());
            }, optimizer);
        });
        float[] separate = Train((model, parameters) =>
        {
            GradientFilter?[] filters = members.Select((m, g) => double.IsNaN(options[g].Lamb) ? null : SeparatePath.Filter(filter, m.Select(i => parameters[i]), options[g].Lamb)).ToArray();
            Optimizer adam = decoupled
                ? AdamW(members.Select((m, g) => new AdamW.ParamGroup(m.Select(i => parameters[i]), options[g].Lr, options[g].Beta1, options[g].Beta2, options[g].Eps, options[g].WeightDecay)))
                : Adam(members.Select((m, g) => new Adam.ParamGroup(m.Select(i => parameters[i]), options[g].Lr, options[g].Beta1, options[g].Beta2, options[g].Eps, options[g].WeightDecay)));
            var scheduler = lr_scheduler.LambdaLR(adam, schedule);
            return (adam.zero_grad, () =>
            {
                foreach (GradientFilter? f in filters) f?.step();
                adam.step();
                scheduler.step();
            }, new SeparatePath.Owners([.. filters, adam]));
        });

        // As FusedAdamTrainingTests: libtorch's Adam fuses multiply-adds we round one by one, < 1e-6 over 120 steps here.
        FloatAssert.Close(separate, fused, rtol: 0, atol: 1e-5);
        // Each group's rate followed the schedule from its own initial rate.
        for (int g = 0; g < members.Length; g++) Assert.Equal(options[g].Lr * schedule(Steps), fusedRates[^1][g], 12);
    }

    [Fact]
    public void TorchSharpsAdamWGroups_GiveTheSameStepsAsTheFusedGroups()
    {
        float[] fromTorchSharp = Train((model, parameters) => Own(new GrokfastAdamW(TwoGroups.Select((m, g) =>
            new AdamW.ParamGroup(m.Select(i => parameters[i]), TwoOptions[g].Lr, TwoOptions[g].Beta1, TwoOptions[g].Beta2, TwoOptions[g].Eps, TwoOptions[g].WeightDecay)),
            grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0))));
        float[] fused = Train((model, parameters) => Own(new GrokfastAdamW(TwoGroups.Select((m, g) =>
            new FusedAdamOptimizer.ParamGroup(m.Select(i => parameters[i]), TwoOptions[g].Lr, TwoOptions[g].Beta1, TwoOptions[g].Beta2, TwoOptions[g].Eps, TwoOptions[g].WeightDecay)),
            grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0))));

        Assert.Equal(fused, fromTorchSharp);
    }

    [Fact]
    public void NoDecayGroup_WithZeroGradients_IsLeftAsItWasWhileTheDecayGroupShrinks()
    {
        using var model = TinyMlp.CreateLinear();
        Parameter[] parameters = [.. model.parameters()];
        float[] before = TinyMlp.Flatten(parameters);
        using var optimizer = new GrokfastAdamW([new FusedAdamOptimizer.ParamGroup([parameters[0], parameters[2]], weight_decay: 0.5),
            new FusedAdamOptimizer.ParamGroup([parameters[1], parameters[3]], weight_decay: 0)], lr: 0.1);
        foreach (Parameter p in parameters) p.grad = torch.zeros_like(p);

        optimizer.step();

        // AdamW's decay alone moves a parameter whose gradient is 0: by the factor 1 - lr·wd, rounded as the pass rounds it.
        float shrink = (float)(1 - 0.1 * 0.5);
        Assert.Equal(before.Take(31 * 7).Select(w => w * shrink), TinyMlp.Flatten([parameters[0]]));
        Assert.Equal(before.Skip(31 * 7).Take(31), TinyMlp.Flatten([parameters[1]]));
        Assert.Equal(before.Skip(31 * 7 + 31 + 93), TinyMlp.Flatten([parameters[3]]));
    }

    [Theory]
    [InlineData("ema")]
    [InlineData("kalman")]
    [InlineData("ma")]
    public void GrokfastAfterStep_LeavesTheFilterUntouchedUntilThen_ThenMatchesAFilterCreatedAtThatStep(string filter)
    {
        const int after = 30;
        Dictionary<string, Tensor>? atStart = null, atAfter = null;
        float[] fused = Train((model, parameters) =>
        {
            var optimizer = new GrokfastAdamW(model, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter), grokfast_after_step: after);
            atStart = FilterState(optimizer);
            int steps = 0;
            return (optimizer.zero_grad, () =>
            {
                optimizer.step();
                if (++steps == after) atAfter = FilterState(optimizer);
            }, optimizer);
        });
        float[] separate = Train((model, parameters) =>
        {
            Optimizer adam = AdamW(model.parameters(), lr: 1e-2, weight_decay: 0.1);
            GradientFilter? late = null;
            int steps = 0;
            return (adam.zero_grad, () =>
            {
                if (steps++ == after) late = SeparatePath.Filter(filter, model.parameters(), 2.0);
                late?.step();
                adam.step();
            }, new SeparatePath.Owners([adam, new Deferred(() => late)]));
        });

        foreach ((string name, Tensor start) in atStart!) Assert.True(start.bytes.SequenceEqual(atAfter![name].bytes), $"the filter's {name} changed before step {after}");
        FloatAssert.Close(separate, fused, rtol: 0, atol: 1e-5);
    }

    [Fact]
    public void GroupSwitchedOff_KeepsItsFilterStateWhileTheOtherGroupsFilter()
    {
        using var model = TinyMlp.CreateLinear();
        Parameter[] parameters = [.. model.parameters()];
        (Tensor x, Tensor y) = TinyMlp.Data();
        var off = new FusedAdamOptimizer.ParamGroup([parameters[1], parameters[3]], grokfast: false);
        using var optimizer = new GrokfastAdamW([new FusedAdamOptimizer.ParamGroup([parameters[0], parameters[2]]), off],
            grokfast: GrokfastFilter.Kalman(lamb: 2.0));
        using Tensor before = optimizer.state()["estimates"];

        for (int i = 0; i < 5; i++) TinyMlp.Step(model, optimizer, x, y);
        off.Options.grokfast = true;
        using Tensor whileOff = optimizer.state()["estimates"];
        TinyMlp.Step(model, optimizer, x, y);
        using Tensor afterOn = optimizer.state()["estimates"];

        // Layout: group 0's 217 + 93 elements, then group 1's 31 + 3.
        const long filtered = 31 * 7 + 3 * 31, unfiltered = 31 + 3;
        Assert.Equal(Part(before, filtered, unfiltered), Part(whileOff, filtered, unfiltered));
        Assert.NotEqual(Part(before, 0, filtered), Part(whileOff, 0, filtered));
        Assert.NotEqual(Part(whileOff, filtered, unfiltered), Part(afterOn, filtered, unfiltered));
    }

    [Fact]
    public void NormalizeLr_DividesEachFilteredGroupsRateByOnePlusItsLamb()
    {
        float[] normalized = Train((model, parameters) => Own(new GrokfastAdamW(
            [new FusedAdamOptimizer.ParamGroup([parameters[0], parameters[2]], lamb: 3.0), new FusedAdamOptimizer.ParamGroup([parameters[1], parameters[3]], grokfast: false)],
            lr: 1e-2, grokfast: GrokfastFilter.Ema(lamb: 2.0), normalize_lr: true)));
        float[] byHand = Train((model, parameters) => Own(new GrokfastAdamW(
            [new FusedAdamOptimizer.ParamGroup([parameters[0], parameters[2]], lr: 1e-2 / 4, lamb: 3.0), new FusedAdamOptimizer.ParamGroup([parameters[1], parameters[3]], grokfast: false)],
            lr: 1e-2, grokfast: GrokfastFilter.Ema(lamb: 2.0))));

        Assert.Equal(byHand, normalized);
        using var model = TinyMlp.CreateLinear();
        using var optimizer = new GrokfastAdamW(model, lr: 1e-2, grokfast: GrokfastFilter.Ema(lamb: 2.0), normalize_lr: true);
        Assert.Equal(1e-2 / 3, optimizer.param_groups[0].LearningRate);
        Assert.Equal(1e-2 / 3, optimizer.param_groups[0].InitialLearningRate);
    }

    [Fact]
    public void Groups_OnTheTwinAndOnIlgpu_AgreeBitForBit()
    {
        float[] twin = Train((model, parameters) => Own(ThreeGroupOptimizer(parameters, KernelBackend.Cpu)), steps: 8);
        float[] ilgpu = Train((model, parameters) => Own(ThreeGroupOptimizer(parameters, KernelBackend.IlgpuCpu)), steps: 8);

        Assert.Equal(twin, ilgpu);
    }

    [Fact]
    public void Checkpoint_WithGroups_ResumesBitForBit_AndAnotherGroupingIsRefusedByName()
    {
        string path = Path.Combine(Path.GetTempPath(), $"grokfast-groups-{Guid.NewGuid():N}.gfst");
        (Tensor x, Tensor y) = TinyMlp.Data();
        float[] atSave, straight;
        using (var model = TinyMlp.CreateLinear())
        using (var optimizer = ThreeGroupOptimizer([.. model.parameters()], KernelBackend.Cpu))
        {
            for (int i = 0; i < 6; i++) TinyMlp.Step(model, optimizer, x, y);
            optimizer.param_groups[2].LearningRate = 7e-3;
            optimizer.save(path);
            atSave = TinyMlp.Flatten(model.parameters());
            for (int i = 0; i < 6; i++) TinyMlp.Step(model, optimizer, x, y);
            straight = TinyMlp.Flatten(model.parameters());
        }
        try
        {
            using var model = TinyMlp.CreateLinear();
            Parameter[] parameters = [.. model.parameters()];
            TinyMlp.Load(parameters, atSave);
            using (var resumed = ThreeGroupOptimizer(parameters, KernelBackend.Cpu))
            {
                resumed.load(path);
                Assert.Equal(7e-3, resumed.param_groups[2].LearningRate);
                for (int i = 0; i < 6; i++) TinyMlp.Step(model, resumed, x, y);
                Assert.Equal(straight, TinyMlp.Flatten(model.parameters()));
            }

            // b1 moved from the no-decay group to the first: the load names it and changes nothing.
            using var regrouped = new GrokfastAdamW([new FusedAdamOptimizer.ParamGroup([parameters[0], parameters[1]]),
                new FusedAdamOptimizer.ParamGroup([parameters[3]]), new FusedAdamOptimizer.ParamGroup([parameters[2]])], grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0));
            var error = Assert.Throws<ArgumentException>(() => regrouped.load(path));
            Assert.Contains("param_groups", error.Message, StringComparison.Ordinal);
            Assert.Equal(0, regrouped.StepCount);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ParameterInTwoGroups_IsRefusedByName()
    {
        using var model = TinyMlp.CreateLinear();
        Parameter[] parameters = [.. model.parameters()];
        parameters[1].name = "b1";

        var error = Assert.Throws<ArgumentException>(() => new GrokfastAdamW([new FusedAdamOptimizer.ParamGroup([parameters[0], parameters[1]]),
            new FusedAdamOptimizer.ParamGroup([parameters[1]])]));
        Assert.Contains("'b1'", error.Message, StringComparison.Ordinal);
    }

    private static GrokfastAdamW ThreeGroupOptimizer(Parameter[] parameters, KernelBackend backend) => new GrokfastAdamW(
        ThreeGroups.Select((m, g) => new FusedAdamOptimizer.ParamGroup(m.Select(i => parameters[i]), ThreeOptions[g].Lr, ThreeOptions[g].Beta1,
            ThreeOptions[g].Beta2, ThreeOptions[g].Eps, ThreeOptions[g].WeightDecay, double.IsNaN(ThreeOptions[g].Lamb) ? null : ThreeOptions[g].Lamb,
            grokfast: !double.IsNaN(ThreeOptions[g].Lamb))), grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0), backend: backend);

    private static Dictionary<string, Tensor> FilterState(FusedAdamOptimizer optimizer) =>
        optimizer.state().Where(s => s.Key is not ("exp_avg" or "exp_avg_sq" or "master_weights")).ToDictionary();

    private static float[] Part(Tensor state, long start, long length) => state.data<float>().Skip((int)start).Take((int)length).ToArray();

    private static (Action, Action, IDisposable) Own(FusedAdamOptimizer optimizer) => (optimizer.zero_grad, () => optimizer.step(), optimizer);

    /// <summary>Trains a fresh linear <see cref="TinyMlp"/> with what <paramref name="build"/> gives; returns the weights.</summary>
    private static float[] Train(Func<Module<Tensor, Tensor>, Parameter[], (Action ZeroGrad, Action Step, IDisposable Owner)> build, int steps = Steps)
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        (Action zeroGrad, Action step, IDisposable owner) = build(model, [.. model.parameters()]);
        using (owner)
        {
            for (int i = 0; i < steps; i++)
            {
                zeroGrad();
                TinyMlp.Backward(model, x, y);
                step();
            }
        }
        return TinyMlp.Flatten(model.parameters());
    }

    private sealed class Deferred(Func<IDisposable?> owned) : IDisposable
    {
        public void Dispose() => owned()?.Dispose();
    }
}
