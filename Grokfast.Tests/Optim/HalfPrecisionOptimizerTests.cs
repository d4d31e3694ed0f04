using Grokfast.Checkpoints;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Optim;

/// <summary>
/// The fused optimizers on bfloat16 and float16 parameters, alone or mixed with float32 ones: with master weights each
/// 16-bit parameter is its float32 master (updated exactly as a float32 parameter fed the widened gradients) rounded by
/// libtorch; without, the float32 step applied to the widened parameter, rounded back each step — bit for bit, with every
/// filter and none. Updates below half an ulp; the guard; checkpoints with master weights.
/// </summary>
public sealed class HalfPrecisionOptimizerTests
{
    private const int Steps = 25;
    private static readonly long[][] Shapes = MixedDtypes.Shapes;
    private static readonly ScalarType[] Mixed = MixedDtypes.Mixed;

    [Theory]
    [InlineData("ema", ScalarType.BFloat16, true, true)]
    [InlineData("ema", ScalarType.Float16, false, true)]
    [InlineData("ema", ScalarType.BFloat16, true, false)]
    [InlineData("ma", ScalarType.Float16, true, true)]
    [InlineData("ma", ScalarType.BFloat16, false, false)]
    [InlineData("kalman", ScalarType.BFloat16, true, true)]
    [InlineData("kalman", ScalarType.Float16, true, false)]
    [InlineData("none", ScalarType.BFloat16, false, true)]
    [InlineData("none", ScalarType.Float16, true, false)]
    public void FusedStep_OnHalfPrecisionParameters_MatchesTheFloat32StepRoundedToTheDtype(string filter, ScalarType dtype, bool decoupled, bool masterWeights) =>
        AssertMatchesFloat32(filter, MixedDtypes.All(dtype), decoupled, masterWeights);

    [Theory]
    [InlineData("ema", true)]
    [InlineData("ema", false)]
    [InlineData("ma", true)]
    [InlineData("kalman", false)]
    public void FusedStep_OnAModelOfMixedDtypes_MatchesTheFloat32StepRoundedToEachDtype(string filter, bool masterWeights) =>
        AssertMatchesFloat32(filter, Mixed, decoupled: true, masterWeights);

    [Fact]
    public void MasterWeights_KeepUpdatesBelowHalfAnUlp_ThatDirectUpdatesLose()
    {
        // bfloat16's ulp at 1.0 is 2^-7; Adam moves each parameter by about lr = 1e-4 a step, far below half of it.
        using var withMaster = new DtypeModule([[64]], [ScalarType.BFloat16]);
        using var direct = new DtypeModule([[64]], [ScalarType.BFloat16]);
        using Tensor ones = torch.ones(64, ScalarType.BFloat16);
        withMaster.SetValues(0, ones);
        direct.SetValues(0, ones);
        using var masterOptimizer = new GrokfastAdam(withMaster, lr: 1e-4, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2));
        using var directOptimizer = new GrokfastAdam(direct, lr: 1e-4, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2), master_weights: false);
        using Tensor gradient = torch.full(64, 0.5f, ScalarType.BFloat16);

        for (int step = 0; step < 200; step++)
        {
            withMaster.SetGradient(0, gradient);
            direct.SetGradient(0, gradient);
            masterOptimizer.step();
            directOptimizer.step();
        }

        Assert.True(direct.ValueBytes(0).SequenceEqual(withMaster.ValueBytes(0)) == false, "the master weights should have moved the parameters");
        using Tensor lost = direct.Parameters[0].to(ScalarType.Float32);
        Assert.All(lost.data<float>().ToArray(), value => Assert.Equal(1f, value));
        using Tensor kept = withMaster.Parameters[0].to(ScalarType.Float32);
        // 200 steps of about 1e-4 each: about 0.02 down, rounded to bfloat16's 2^-8 below 1.
        Assert.All(kept.data<float>().ToArray(), value => Assert.InRange(value, 0.97f, 0.99f));
    }

    [Fact]
    public void ReplacedHalfPrecisionParameter_IsTakenBackIn_AndItsMasterWeightsFollow()
    {
        using var model = new DtypeModule(Shapes, Mixed);
        MixedDtypes.SetValues(model, Mixed);
        using var optimizer = new GrokfastAdamW(model, weight_decay: 0);
        MixedDtypes.SetGradients(model, Mixed, 0);
        optimizer.step();
        using Tensor replacement = torch.full(Shapes[0], 0.375f, ScalarType.BFloat16);
        using (torch.no_grad()) model.Parameters[0].set_(replacement.clone());

        optimizer.lr = 0;  // the step then leaves every parameter where it is: from its master, if the master followed
        MixedDtypes.SetGradients(model, Mixed, 1);
        optimizer.step();

        using Tensor values = model.Parameters[0].detach().to(ScalarType.Float32);
        Assert.All(values.data<float>().ToArray(), value => Assert.Equal(0.375f, value));
    }

    [Fact]
    public void NonFiniteFloat16Gradient_SkipsTheWholeStep_ParametersMastersAndMomentsUntouched()
    {
        using var model = new DtypeModule(Shapes, Mixed);
        MixedDtypes.SetValues(model, Mixed);
        using var optimizer = new GrokfastAdamW(model, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2));
        MixedDtypes.SetGradients(model, Mixed, 0);
        optimizer.step();
        MixedDtypes.SetGradients(model, Mixed, 1);
        using (Tensor grad = model.Parameters[2].grad!)
        using (torch.no_grad())
            grad.view(-1)[7] = 70000f;  // overflows float16 to +Inf
        GradientFilterState before = optimizer.checkpoint();
        byte[][] values = Enumerable.Range(0, Shapes.Length).Select(model.ValueBytes).ToArray();

        optimizer.step();

        Assert.True(optimizer.LastStepSkipped);
        GradientFilterState after = optimizer.checkpoint();
        foreach (string name in before.Buffers.Keys) Assert.Equal(before.Buffers[name], after.Buffers[name]);
        Assert.Contains("master_weights", before.Buffers.Keys);
        for (int i = 0; i < Shapes.Length; i++) Assert.Equal(values[i], model.ValueBytes(i));
    }

    [Fact]
    public void Checkpoint_WithMasterWeights_ResumesBitForBit()
    {
        using var model = new DtypeModule(Shapes, Mixed);
        MixedDtypes.SetValues(model, Mixed);
        using var optimizer = new GrokfastAdamW(model, lr: 1e-2, grokfast: GrokfastFilter.Kalman(lamb: 2));
        for (int step = 0; step < 6; step++) Step(model, optimizer, step);
        using var saved = new MemoryStream();
        optimizer.checkpoint().Save(saved);
        Tensor[] valuesAtSave = model.Parameters.Select(p => p.detach().clone()).ToArray();
        var continued = new List<byte[]>();
        for (int step = 6; step < 12; step++) continued.AddRange(Step(model, optimizer, step));

        using var resumedModel = new DtypeModule(Shapes, Mixed);
        for (int i = 0; i < Shapes.Length; i++)
        {
            using Tensor values = valuesAtSave[i];
            resumedModel.SetValues(i, values);
        }
        using var resumed = new GrokfastAdamW(resumedModel, lr: 1e-2, grokfast: GrokfastFilter.Kalman(lamb: 2));
        saved.Position = 0;
        resumed.load_checkpoint(GradientFilterState.Load(saved));
        var replayed = new List<byte[]>();
        for (int step = 6; step < 12; step++) replayed.AddRange(Step(resumedModel, resumed, step));

        Assert.Equal(continued, replayed);
        GradientFilterState expected = optimizer.checkpoint(), actual = resumed.checkpoint();
        foreach (string name in expected.Buffers.Keys) Assert.Equal(expected.Buffers[name], actual.Buffers[name]);
    }

    [Fact]
    public void Checkpoint_WithMasterWeights_LoadedIntoAModelWhose16BitValuesDiffer_RoundsThemFromTheMasters()
    {
        using var model = new DtypeModule(Shapes, Mixed);
        MixedDtypes.SetValues(model, Mixed);
        using var optimizer = new GrokfastAdamW(model, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2));
        for (int step = 0; step < 4; step++) Step(model, optimizer, step);
        GradientFilterState state = optimizer.checkpoint();
        // A fresh model: its 16-bit parameters hold other values (zeros), which the masters must overwrite on load.
        using var resumedModel = new DtypeModule(Shapes, Mixed);
        using var resumed = new GrokfastAdamW(resumedModel, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2));

        resumed.load_checkpoint(state);

        for (int i = 0; i < Shapes.Length; i++)
        {
            if (Mixed[i] == ScalarType.Float32) Assert.All(resumedModel.ValueBytes(i), b => Assert.Equal(0, b));
            else Assert.Equal(model.ValueBytes(i), resumedModel.ValueBytes(i));
        }
    }

    [Fact]
    public void Checkpoint_WithMasterWeights_IsRefusedByAnOptimizerWithout()
    {
        using var model = new DtypeModule(Shapes, Mixed);
        using var withMaster = new GrokfastAdamW(model);
        GradientFilterState state = withMaster.checkpoint();
        using var otherModel = new DtypeModule(Shapes, Mixed);
        using var direct = new GrokfastAdamW(otherModel, master_weights: false);

        ArgumentException error = Assert.Throws<ArgumentException>(() => direct.load_checkpoint(state));

        Assert.Contains("master weights", error.Message, StringComparison.Ordinal);
    }

    private static byte[][] Step(DtypeModule model, FusedAdamOptimizer optimizer, int step)
    {
        MixedDtypes.SetGradients(model, Mixed, step);
        optimizer.step();
        return Enumerable.Range(0, Shapes.Length).Select(model.ValueBytes).ToArray();
    }

    /// <summary>
    /// Runs the fused optimizer on <paramref name="dtypes"/> parameters beside the same optimizer on a float32 model of the
    /// same layout (grouped by dtype) fed the widened gradients; without master weights the reference's 16-bit parameters
    /// are rounded after each step, as the 16-bit step rounds them.
    /// </summary>
    private static void AssertMatchesFloat32(string filter, ScalarType[] dtypes, bool decoupled, bool masterWeights)
    {
        int[] order = MixedDtypes.LayoutOrder(dtypes);
        using var model = new DtypeModule(Shapes, dtypes);
        using DtypeModule reference = MixedDtypes.Float32Twin(dtypes);
        MixedDtypes.SetValues(model, dtypes, reference);
        using FusedAdamOptimizer optimizer = Create(model, filter, decoupled, masterWeights);
        using FusedAdamOptimizer expected = Create(reference, filter, decoupled, masterWeights: true);
        for (int step = 0; step < Steps; step++)
        {
            MixedDtypes.SetGradients(model, dtypes, step, reference);
            optimizer.step();
            expected.step();
            if (!masterWeights) RoundHalfParameters(reference, dtypes, order);

            for (int i = 0; i < dtypes.Length; i++)
            {
                using Tensor rounded = reference.Parameters[Array.IndexOf(order, i)].detach().to(dtypes[i]).contiguous();
                Assert.True(rounded.bytes.SequenceEqual(model.ValueBytes(i)), $"{filter}: parameter {i} ({dtypes[i]}) differs at step {step}.");
            }
            IReadOnlyDictionary<string, Tensor> actualState = optimizer.state(), expectedState = expected.state();
            try
            {
                Assert.True(expectedState["exp_avg_sq"].bytes.SequenceEqual(actualState["exp_avg_sq"].bytes), $"{filter}: exp_avg_sq differs at step {step}.");
                Assert.Equal(masterWeights && dtypes.Any(d => d != ScalarType.Float32), actualState.ContainsKey("master_weights"));
                if (actualState.TryGetValue("master_weights", out Tensor? masters))
                {
                    float[] expectedMasters = order.Where(i => dtypes[i] != ScalarType.Float32)
                        .SelectMany(i => reference.Parameters[Array.IndexOf(order, i)].detach().reshape(-1).data<float>().ToArray()).ToArray();
                    Assert.Equal(expectedMasters, masters.data<float>().ToArray());
                }
            }
            finally
            {
                foreach (Tensor t in actualState.Values.Concat(expectedState.Values)) t.Dispose();
            }
        }
    }

    private static FusedAdamOptimizer Create(DtypeModule model, string filter, bool decoupled, bool masterWeights)
    {
        GrokfastFilter? grokfast = filter switch
        {
            "ema" => GrokfastFilter.Ema(alpha: 0.9, lamb: 2),
            "ma" => GrokfastFilter.WindowedMean(window_size: 5, lamb: 2),
            "kalman" => GrokfastFilter.Kalman(process_noise: 1e-3, measurement_noise: 1e-2, lamb: 2),
            _ => null,
        };
        return decoupled
            ? new GrokfastAdamW(model, lr: 1e-2, weight_decay: 0.1, grokfast: grokfast, master_weights: masterWeights)
            : new GrokfastAdam(model, lr: 1e-2, weight_decay: 0.01, grokfast: grokfast, master_weights: masterWeights);
    }

    private static void RoundHalfParameters(DtypeModule reference, ScalarType[] dtypes, int[] order)
    {
        for (int i = 0; i < dtypes.Length; i++)
        {
            if (dtypes[i] == ScalarType.Float32) continue;
            int position = Array.IndexOf(order, i);
            using Tensor rounded = reference.Parameters[position].detach().to(dtypes[i]).to(ScalarType.Float32);
            reference.SetValues(position, rounded);
        }
    }
}
