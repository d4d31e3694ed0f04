using Grokfast.Checkpoints;
using Grokfast.Kernels.Backends;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Optim;

/// <summary>The fused optimizers as TorchSharp optimizers: schedulers, checkpoints, the non-finite guard, refusals, the flat parameter buffer.</summary>
[Collection(nameof(ProcessWideCounters))]
public sealed class FusedAdamOptimizerTests
{
    [Fact]
    public void LearningRateScheduler_SetsTheStepsLearningRate()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var optimizer = new GrokfastAdamW(model, lr: 1e-2, grokfast: GrokfastFilter.Ema());
        // Zero for three updates, then the full rate: TorchSharp's scheduler writes the parameter group's rate.
        var schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, update => update < 3 ? 0.0 : 1.0);
        float[] initial = TinyMlp.Flatten(model.parameters());

        for (int i = 0; i < 3; i++)
        {
            TinyMlp.Step(model, optimizer, x, y);
            schedule.step();
        }
        Assert.Equal(initial, TinyMlp.Flatten(model.parameters()));
        Assert.Equal(1e-2, optimizer.ParamGroups.Single().LearningRate);
        TinyMlp.Step(model, optimizer, x, y);
        Assert.NotEqual(initial, TinyMlp.Flatten(model.parameters()));
        Assert.Equal(4, optimizer.StepCount);
    }

    [Theory]
    [InlineData("none", false)]
    [InlineData("ema", true)]
    [InlineData("ma", false)]
    [InlineData("kalman", true)]
    public void Checkpoint_ResumedInAFreshOptimizer_ContinuesBitForBit(string filter, bool decoupled)
    {
        string path = Path.Combine(Path.GetTempPath(), $"grokfast-adam-{Guid.NewGuid():N}.gfst");
        (Tensor x, Tensor y) = TinyMlp.Data();
        float[] atSave, straight;
        using (var model = TinyMlp.Create())
        using (FusedAdamOptimizer optimizer = Create(model, filter, decoupled))
        {
            for (int i = 0; i < 7; i++) TinyMlp.Step(model, optimizer, x, y);
            optimizer.save(path);
            atSave = TinyMlp.Flatten(model.parameters());
            for (int i = 0; i < 7; i++) TinyMlp.Step(model, optimizer, x, y);
            straight = TinyMlp.Flatten(model.parameters());
        }

        try
        {
            float[] resumed = ContinueFrom(atSave, filter, decoupled, x, y, optimizer => optimizer.load(path));
            float[] restarted = ContinueFrom(atSave, filter, decoupled, x, y, _ => { });

            Assert.Equal(straight, resumed);
            // The moments (and the filter's state) matter: without them the same seven steps go elsewhere.
            Assert.NotEqual(straight, restarted);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_RestoresTheLearningRateAndStepCount()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var saved = new GrokfastAdam(model, lr: 3e-3, grokfast: GrokfastFilter.Ema());
        TinyMlp.Step(model, saved, x, y);
        TinyMlp.Step(model, saved, x, y);
        GradientFilterState state = saved.checkpoint();
        using var other = TinyMlp.Create();
        using var loaded = new GrokfastAdam(other, lr: 1.0, grokfast: GrokfastFilter.Ema());

        loaded.load_checkpoint(state);

        Assert.Equal("adam+ema", state.Kind);
        Assert.Equal(3e-3, loaded.lr);
        Assert.Equal(2, loaded.StepCount);
    }

    [Fact]
    public void Load_RestoresEveryAdamHyperparameter_SoTheNextStepIsTheSavedOptimizersOwn()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var saved = new GrokfastAdamW(model, lr: 3e-3, beta1: 0.8, beta2: 0.95, eps: 1e-3, weight_decay: 0.1, grokfast: GrokfastFilter.Ema());
        TinyMlp.Step(model, saved, x, y);
        TinyMlp.Step(model, saved, x, y);
        GradientFilterState state = saved.checkpoint();
        using var other = TinyMlp.Create(seed: 5);
        using (torch.no_grad())
        {
            foreach ((Tensor mine, Tensor theirs) in other.parameters().Zip(model.parameters())) mine.copy_(theirs);
        }
        using var loaded = new GrokfastAdamW(other, grokfast: GrokfastFilter.Ema());

        loaded.load_checkpoint(state);

        Assert.Equal(1e-3, loaded.eps);
        Assert.Equal(0.1, loaded.weight_decay);
        // The betas are not public: one more step on the same gradients shows they came back too.
        TinyMlp.Step(model, saved, x, y);
        TinyMlp.Step(other, loaded, x, y);
        Assert.Equal(TinyMlp.Flatten(model.parameters()), TinyMlp.Flatten(other.parameters()));
    }

    [Fact]
    public void Load_OfAnotherOptimizerOrFilter_IsRefusedAndChangesNothing()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var adamw = new GrokfastAdamW(model, grokfast: GrokfastFilter.Ema(alpha: 0.9));
        TinyMlp.Step(model, adamw, x, y);
        GradientFilterState adamwState = adamw.checkpoint();
        using var other = TinyMlp.Create();
        using var adam = new GrokfastAdam(other, grokfast: GrokfastFilter.Ema(alpha: 0.9));
        using var otherAlpha = new GrokfastAdamW(other, grokfast: GrokfastFilter.Ema(alpha: 0.8));
        float[] momentsBefore = Moments(otherAlpha);

        ArgumentException kind = Assert.Throws<ArgumentException>(() => adam.load_checkpoint(adamwState));
        ArgumentException alpha = Assert.Throws<ArgumentException>(() => otherAlpha.load_checkpoint(adamwState));

        Assert.Contains("adamw+ema", kind.Message, StringComparison.Ordinal);
        Assert.Contains("alpha", alpha.Message, StringComparison.Ordinal);
        Assert.Equal(momentsBefore, Moments(otherAlpha));
        Assert.Equal(0, otherAlpha.StepCount);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void NonFiniteGradient_SkipsTheWholeStep(string filter)
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using FusedAdamOptimizer optimizer = Create(model, filter, decoupled: true);
        TinyMlp.Step(model, optimizer, x, y);
        TinyMlp.Step(model, optimizer, x, y);
        float[] parameters = TinyMlp.Flatten(model.parameters());
        Dictionary<string, float[]> state = State(optimizer);

        optimizer.zero_grad();
        TinyMlp.Backward(model, x, y);
        using (torch.no_grad())
            model.parameters().Last().grad![1] = float.NaN;
        optimizer.step();

        Assert.True(optimizer.LastStepSkipped);
        Assert.Equal(2, optimizer.StepCount);
        Assert.Equal(1, optimizer.SkippedStepCount);
        Assert.Equal(parameters, TinyMlp.Flatten(model.parameters()));
        Assert.Equal(state, State(optimizer));
        TinyMlp.Step(model, optimizer, x, y);
        Assert.False(optimizer.LastStepSkipped);
        Assert.NotEqual(parameters, TinyMlp.Flatten(model.parameters()));
    }

    [Fact]
    public void Step_LeavesTheRawGradientInPGrad()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var optimizer = new GrokfastAdam(model, grokfast: GrokfastFilter.Ema(lamb: 5));
        TinyMlp.Step(model, optimizer, x, y);
        optimizer.zero_grad();
        TinyMlp.Backward(model, x, y);
        float[] raw = TinyMlp.Flatten(model.parameters().Select(p => p.grad!));

        optimizer.step();

        Assert.Equal(raw, TinyMlp.Flatten(model.parameters().Select(p => p.grad!)));
    }

    [Fact]
    public void Step_WithAClosure_ReturnsItsLoss()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var optimizer = new GrokfastAdam(model);

        using Tensor loss = optimizer.step(() =>
        {
            optimizer.zero_grad();
            Tensor l = functional.mse_loss(model.forward(x), y);
            l.backward();
            return l;
        });

        Assert.True(loss.item<float>() > 0);
        Assert.Equal(1, optimizer.StepCount);
    }

    [Fact]
    public void Parameters_BecomeViewsOfOneBuffer_AndAReplacedOneIsTakenBackIn()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        float[] initial = TinyMlp.Flatten(model.parameters());
        using var optimizer = new GrokfastAdam(model, lr: 0);
        Parameter first = model.parameters().First();

        Assert.Equal(initial, TinyMlp.Flatten(model.parameters()));
        Assert.Single(model.parameters().Select(p => p.storage<float>().data_ptr()).Distinct());

        using Tensor replacement = torch.full(first.shape, 0.25f);
        using (torch.no_grad()) first.set_(replacement.clone());
        optimizer.lr = 1e-2;
        TinyMlp.Step(model, optimizer, x, y);

        // The step updated the replacement's values, in the flat buffer again.
        Assert.Single(model.parameters().Select(p => p.storage<float>().data_ptr()).Distinct());
        float[] updated = first.detach().data<float>().ToArray();
        Assert.All(updated, value => Assert.InRange(value, 0.25f - 1.5e-2f, 0.25f + 1.5e-2f));
        Assert.Contains(updated, value => value != 0.25f);
    }

    [Theory]
    [InlineData("lr", -1.0, 0.9, 0.999, 1e-8, 0.0)]
    [InlineData("lr", double.NaN, 0.9, 0.999, 1e-8, 0.0)]
    [InlineData("beta1", 1e-3, 1.0, 0.999, 1e-8, 0.0)]
    [InlineData("beta1", 1e-3, -0.1, 0.999, 1e-8, 0.0)]
    [InlineData("beta2", 1e-3, 0.9, 1.0, 1e-8, 0.0)]
    [InlineData("eps", 1e-3, 0.9, 0.999, -1e-8, 0.0)]
    [InlineData("eps", 1e-3, 0.9, 0.999, double.PositiveInfinity, 0.0)]
    [InlineData("weight_decay", 1e-3, 0.9, 0.999, 1e-8, -0.1)]
    [InlineData("weight_decay", 1e-3, 0.9, 0.999, 1e-8, double.NaN)]
    public void BadHyperparameter_IsRefusedByName(string name, double lr, double beta1, double beta2, double eps, double weightDecay)
    {
        using var model = TinyMlp.Create();

        ArgumentOutOfRangeException adam = Assert.Throws<ArgumentOutOfRangeException>(() => new GrokfastAdam(model, lr, beta1, beta2, eps, weightDecay));
        ArgumentOutOfRangeException adamw = Assert.Throws<ArgumentOutOfRangeException>(() => new GrokfastAdamW(model, lr, beta1, beta2, eps, weightDecay));

        Assert.Equal(name, adam.ParamName);
        Assert.Equal(name, adamw.ParamName);
        // Refused before the parameters were rebound into a flat buffer.
        Assert.Equal(2, model.parameters().Select(p => p.storage<float>().data_ptr()).Distinct().Take(2).Count());
    }

    [Fact]
    public void BadLearningRateOrBetas_SetLater_AreRefusedByName()
    {
        using var model = TinyMlp.Create();
        using var optimizer = new GrokfastAdamW(model);

        Assert.Equal("lr", Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.lr = -1).ParamName);
        Assert.Equal("beta2", Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.Betas = (0.9, 1.5)).ParamName);
        optimizer.ParamGroups.Single().LearningRate = double.NaN;
        Assert.Contains("lr", Assert.Throws<InvalidOperationException>(() => optimizer.step()).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void OnIlgpuCpuAccelerator_MixedDtypesWithAndWithoutMasterWeights_MatchesTheCpuTwinBitForBit(string filter)
    {
        ScalarType[] dtypes = MixedDtypes.Mixed;
        foreach (bool masterWeights in new[] { true, false })
        {
            using var twinModel = new DtypeModule(MixedDtypes.Shapes, dtypes);
            using var ilgpuModel = new DtypeModule(MixedDtypes.Shapes, dtypes);
            MixedDtypes.SetValues(twinModel, dtypes);
            MixedDtypes.SetValues(ilgpuModel, dtypes);
            using var twin = new GrokfastAdamW(twinModel, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter), backend: KernelBackend.Cpu, master_weights: masterWeights);
            using var ilgpu = new GrokfastAdamW(ilgpuModel, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter), backend: KernelBackend.IlgpuCpu, master_weights: masterWeights);
            for (int step = 0; step < 6; step++)
            {
                MixedDtypes.SetGradients(twinModel, dtypes, step);
                MixedDtypes.SetGradients(ilgpuModel, dtypes, step);
                twin.step();
                ilgpu.step();
                for (int i = 0; i < dtypes.Length; i++)
                    Assert.True(twinModel.ValueBytes(i).SequenceEqual(ilgpuModel.ValueBytes(i)), $"master weights {masterWeights}, step {step}: parameter {i} differs");
            }
            Dictionary<string, float[]> twinState = State(twin), ilgpuState = State(ilgpu);
            foreach ((string name, float[] values) in twinState) Assert.True(values.SequenceEqual(ilgpuState[name]), $"master weights {masterWeights}: {name} differs");
        }
    }

    [Fact]
    public void AddParamGroup_OfAnotherOptimizersKind_IsRefusedByName()
    {
        using var model = TinyMlp.Create();
        using var optimizer = new GrokfastAdam(model);

        var error = Assert.Throws<ArgumentException>(() => optimizer.add_param_group(new ParamGroup()));
        Assert.Equal("param_group", error.ParamName);
        Assert.Single(optimizer.param_groups);
    }

    [Theory]
    [InlineData("none", false)]
    [InlineData("ema", false)]
    [InlineData("ma", false)]
    [InlineData("kalman", false)]
    [InlineData("ema", true)]
    public void Step_AfterTheFirst_AllocatesNoManagedMemory(string filter, bool clipped)
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using FusedAdamOptimizer optimizer = Create(model, filter, decoupled: true);
        optimizer.max_grad_norm = clipped ? 0.01 : null;
        TinyMlp.Backward(model, x, y);
        optimizer.step();

        long allocated = Allocations.During(() =>
        {
            optimizer.step();
            optimizer.step();
        });

        Assert.Equal(0, allocated);
    }

    private static FusedAdamOptimizer Create(Module model, string filter, bool decoupled) => decoupled
        ? new GrokfastAdamW(model, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter))
        : new GrokfastAdam(model, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter));

    private static float[] ContinueFrom(float[] parameters, string filter, bool decoupled, Tensor x, Tensor y, Action<FusedAdamOptimizer> restore)
    {
        using var model = TinyMlp.Create(seed: 42);
        using FusedAdamOptimizer optimizer = Create(model, filter, decoupled);
        int offset = 0;
        using (torch.no_grad())
        {
            foreach (Parameter p in model.parameters())
            {
                using Tensor values = torch.tensor(parameters.AsSpan(offset, (int)p.numel()).ToArray()).view(p.shape);
                p.copy_(values);
                offset += (int)p.numel();
            }
        }
        restore(optimizer);
        for (int i = 0; i < 7; i++) TinyMlp.Step(model, optimizer, x, y);
        return TinyMlp.Flatten(model.parameters());
    }

    /// <summary>Copies of the optimizer's state tensors as float32 arrays, by name.</summary>
    internal static Dictionary<string, float[]> State(FusedAdamOptimizer optimizer)
    {
        var copies = new Dictionary<string, float[]>();
        foreach ((string name, Tensor tensor) in optimizer.state())
        {
            using (tensor)
            using (Tensor asFloat = tensor.to_type(ScalarType.Float32))
            using (Tensor onHost = asFloat.cpu())  // the CUDA tests read a GPU optimizer's state too
                copies[name] = onHost.data<float>().ToArray();
        }
        return copies;
    }

    private static float[] Moments(FusedAdamOptimizer optimizer) => State(optimizer)["exp_avg"].Concat(State(optimizer)["exp_avg_sq"]).ToArray();
}
