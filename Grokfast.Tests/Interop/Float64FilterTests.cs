using Grokfast.Reference.Ports;
using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

/// <summary>
/// The filters on float64 parameters, alone or beside float32 and bfloat16 ones: float64 state and arithmetic in double,
/// against the reference written in TorchSharp tensor ops on float64 tensors (bit for bit for the EMA and Kalman
/// filters; the windowed mean's running sum rounds otherwise than the reference's re-summing); the guard; checkpoints;
/// the backends and the optimizers that refuse them.
/// </summary>
public sealed class Float64FilterTests
{
    private const int Steps = 24;
    private static readonly long[][] Shapes = MixedDtypes.Shapes;

    [Theory]
    [InlineData("ema")]
    [InlineData("kalman")]
    [InlineData("ma")]
    public void Filter_OnAFloat64Model_MatchesTheReferenceOnFloat64Tensors(string kind)
    {
        ScalarType[] dtypes = MixedDtypes.All(ScalarType.Float64);
        using var model = new DtypeModule(Shapes, dtypes);
        using var referenceModel = new DtypeModule(Shapes, dtypes);
        using GradientFilter grokfast = Create(kind, model);
        using IDisposable reference = CreateReference(kind, referenceModel, out Action referenceStep);

        for (int step = 0; step < Steps; step++)
        {
            for (int i = 0; i < Shapes.Length; i++)
            {
                using Tensor values = DoubleGradients(i, step);
                model.SetGradient(i, values);
                referenceModel.SetGradient(i, values);
            }
            grokfast.step();
            referenceStep();

            for (int i = 0; i < Shapes.Length; i++)
            {
                if (kind == "ma") AssertClose(referenceModel, model, i, step);
                else Assert.True(referenceModel.GradientBytes(i).SequenceEqual(model.GradientBytes(i)), $"{kind}: parameter {i} differs at step {step}");
            }
        }
    }

    [Theory]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void Filter_OnFloat64BesideFloat32AndBfloat16_FiltersEachAsItsOwnModelWould(string kind)
    {
        ScalarType[] dtypes = [ScalarType.Float64, ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float64, ScalarType.Float32, ScalarType.BFloat16];
        using var model = new DtypeModule(Shapes, dtypes);
        var alone = dtypes.Distinct().ToDictionary(dtype => dtype, dtype =>
        {
            int[] members = Enumerable.Range(0, dtypes.Length).Where(i => dtypes[i] == dtype).ToArray();
            var module = new DtypeModule(members.Select(i => Shapes[i]).ToArray(), members.Select(_ => dtype).ToArray());
            return (Members: members, Module: module, Filter: Create(kind, module));
        });
        using GradientFilter grokfast = Create(kind, model);
        try
        {
            for (int step = 0; step < Steps; step++)
            {
                for (int i = 0; i < Shapes.Length; i++)
                {
                    using Tensor wide = DoubleGradients(i, step);
                    using Tensor values = wide.to(dtypes[i]);
                    model.SetGradient(i, values);
                    var own = alone[dtypes[i]];
                    own.Module.SetGradient(Array.IndexOf(own.Members, i), values);
                }
                grokfast.step();
                foreach (var own in alone.Values) own.Filter.step();

                for (int i = 0; i < Shapes.Length; i++)
                {
                    var own = alone[dtypes[i]];
                    Assert.True(own.Module.GradientBytes(Array.IndexOf(own.Members, i)).SequenceEqual(model.GradientBytes(i)), $"{kind}: parameter {i} ({dtypes[i]}) differs at step {step}");
                }
            }
        }
        finally
        {
            foreach (var own in alone.Values)
            {
                own.Filter.Dispose();
                own.Module.Dispose();
            }
        }
    }

    [Theory]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void Checkpoint_OfAModelWithFloat64Parameters_ResumesBitForBit(string kind)
    {
        ScalarType[] dtypes = [ScalarType.Float64, ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float64, ScalarType.Float32, ScalarType.BFloat16];
        using var model = new DtypeModule(Shapes, dtypes);
        using GradientFilter grokfast = Create(kind, model);
        for (int step = 0; step < 7; step++) Step(model, dtypes, grokfast, step);
        using var saved = new MemoryStream();
        grokfast.state_dict().Save(saved);
        var continued = new List<byte[]>();
        for (int step = 7; step < 14; step++) continued.AddRange(Step(model, dtypes, grokfast, step));

        using var resumedModel = new DtypeModule(Shapes, dtypes);
        using GradientFilter resumed = Create(kind, resumedModel);
        saved.Position = 0;
        resumed.load_state_dict(GradientFilterState.Load(saved));
        var replayed = new List<byte[]>();
        for (int step = 7; step < 14; step++) replayed.AddRange(Step(resumedModel, dtypes, resumed, step));

        Assert.Equal(continued, replayed);
        Assert.Contains(grokfast.state_dict().Buffers.Keys, name => name.EndsWith("_float64", StringComparison.Ordinal));
    }

    [Fact]
    public void GuardedStep_WithANaNInAFloat64Gradient_LeavesEverythingUntouched()
    {
        ScalarType[] dtypes = [ScalarType.Float64, ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float64, ScalarType.Float32, ScalarType.BFloat16];
        using var model = new DtypeModule(Shapes, dtypes);
        using var grokfast = new EmaFilter(model, alpha: 0.9, lamb: 2);
        Step(model, dtypes, grokfast, 0);
        SetGradients(model, dtypes, 1);
        using (Tensor grad = model.Parameters[3].grad!)
        using (torch.no_grad())
            grad.view(-1)[0] = double.NaN;
        GradientFilterState before = grokfast.state_dict();
        byte[][] gradients = Enumerable.Range(0, Shapes.Length).Select(model.GradientBytes).ToArray();

        grokfast.step();

        Assert.True(grokfast.LastStepSkipped);
        GradientFilterState after = grokfast.state_dict();
        foreach (string name in before.Buffers.Keys) Assert.Equal(before.Buffers[name], after.Buffers[name]);
        for (int i = 0; i < Shapes.Length; i++) Assert.Equal(gradients[i], model.GradientBytes(i));
    }

    [Fact]
    public void Float64Parameters_OnIlgpuCpuOrInAFusedOptimizer_AreRefusedNamingTheParameter()
    {
        using var model = new DtypeModule([[3], [4]], [ScalarType.Float32, ScalarType.Float64]);

        NotSupportedException backend = Assert.Throws<NotSupportedException>(() => new EmaFilter(model, backend: KernelBackend.IlgpuCpu));
        NotSupportedException optimizer = Assert.Throws<NotSupportedException>(() => new GrokfastAdamW(model));

        Assert.Contains("Float64", backend.Message, StringComparison.Ordinal);
        Assert.Contains("Cpu", backend.Message, StringComparison.Ordinal);
        Assert.Contains("Float64", optimizer.Message, StringComparison.Ordinal);
        Assert.Equal([ScalarType.Float32, ScalarType.Float64], model.parameters().Select(p => p.dtype));
    }

    private static byte[][] Step(DtypeModule model, ScalarType[] dtypes, GradientFilter grokfast, int step)
    {
        SetGradients(model, dtypes, step);
        grokfast.step();
        return Enumerable.Range(0, Shapes.Length).Select(model.GradientBytes).ToArray();
    }

    private static void SetGradients(DtypeModule model, ScalarType[] dtypes, int step)
    {
        for (int i = 0; i < Shapes.Length; i++)
        {
            using Tensor wide = DoubleGradients(i, step);
            using Tensor values = wide.to(dtypes[i]);
            model.SetGradient(i, values);
        }
    }

    /// <summary>Fixed-seed gradients with all 53 bits in use, so arithmetic in float32 anywhere would show.</summary>
    private static Tensor DoubleGradients(int index, int step)
    {
        var random = new Random(100 * step + index);
        double[] values = new double[Shapes[index].Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < values.Length; i++) values[i] = 0.1 * Math.Sin(i * 0.01 + step * 0.1) + (random.NextDouble() - 0.5);
        return torch.tensor(values).reshape(Shapes[index]);
    }

    private static void AssertClose(DtypeModule expected, DtypeModule actual, int index, int step)
    {
        using Tensor e = expected.Parameters[index].grad!.reshape(-1), a = actual.Parameters[index].grad!.reshape(-1);
        double[] want = e.data<double>().ToArray(), got = a.data<double>().ToArray();
        for (int i = 0; i < want.Length; i++)
            Assert.True(Math.Abs(want[i] - got[i]) <= 1e-12 * Math.Max(1, Math.Abs(want[i])), $"ma: parameter {index}, element {i} differs at step {step}: {got[i]} against {want[i]}");
    }

    private static GradientFilter Create(string kind, Module model) => kind switch
    {
        "ema" => new EmaFilter(model, alpha: 0.9, lamb: 2.0),
        "ma" => new WindowedMeanFilter(model, window_size: 5, lamb: 2.0),
        _ => new KalmanFilter(model, process_noise: 1e-3, measurement_noise: 1e-2, lamb: 2.0),
    };

    private static IDisposable CreateReference(string kind, Module model, out Action step)
    {
        switch (kind)
        {
            case "ema":
                var ema = new ReferenceEma(model, alpha: 0.9, lamb: 2.0);
                step = ema.step;
                return ema;
            case "ma":
                var ma = new ReferenceWindowedMean(model, windowSize: 5, lamb: 2.0);
                step = ma.step;
                return ma;
            default:
                var kalman = new ReferenceKalman(model, processNoise: 1e-3, measurementNoise: 1e-2, lamb: 2.0);
                step = kalman.step;
                return kalman;
        }
    }
}
