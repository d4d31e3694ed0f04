using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

/// <summary>
/// The filters on models of bfloat16 and float16 parameters, alone or mixed with float32 ones: each gradient is filtered
/// as the float32 filter filters it widened, then rounded by libtorch to the parameter's dtype — bit for bit, gradients
/// and state, on the CPU twins and on ILGPU's CPU accelerator; the guard on 16-bit gradients; checkpoints.
/// </summary>
public sealed class HalfPrecisionFilterTests
{
    private const int Steps = 24;
    private static readonly long[][] Shapes = MixedDtypes.Shapes;
    private static readonly ScalarType[] Mixed = MixedDtypes.Mixed;

    [Theory]
    [InlineData("ema", ScalarType.BFloat16, KernelBackend.Cpu)]
    [InlineData("ema", ScalarType.Float16, KernelBackend.Cpu)]
    [InlineData("ma", ScalarType.BFloat16, KernelBackend.Cpu)]
    [InlineData("ma", ScalarType.Float16, KernelBackend.Cpu)]
    [InlineData("kalman", ScalarType.BFloat16, KernelBackend.Cpu)]
    [InlineData("kalman", ScalarType.Float16, KernelBackend.Cpu)]
    [InlineData("ema", ScalarType.BFloat16, KernelBackend.IlgpuCpu)]
    [InlineData("ma", ScalarType.Float16, KernelBackend.IlgpuCpu)]
    [InlineData("kalman", ScalarType.BFloat16, KernelBackend.IlgpuCpu)]
    public void Filter_OnAHalfPrecisionModel_MatchesTheFloat32FilterRoundedToTheDtype(string kind, ScalarType dtype, KernelBackend backend) =>
        AssertMatchesFloat32Filter(kind, MixedDtypes.All(dtype), backend);

    [Theory]
    [InlineData("ema", KernelBackend.Cpu)]
    [InlineData("ma", KernelBackend.Cpu)]
    [InlineData("kalman", KernelBackend.Cpu)]
    [InlineData("ema", KernelBackend.IlgpuCpu)]
    public void Filter_OnAModelOfMixedDtypes_MatchesTheFloat32FilterRoundedToEachParametersDtype(string kind, KernelBackend backend) =>
        AssertMatchesFloat32Filter(kind, Mixed, backend);

    [Fact]
    public void Filter_OnAModelOfMixedDtypes_KeepsOneBufferPerDtypeWithEveryGradientAView()
    {
        using var model = new DtypeModule(Shapes, Mixed);
        using var grokfast = new EmaFilter(model);
        MixedDtypes.SetGradients(model, Mixed, step: 0);
        grokfast.step();

        Assert.Equal(Shapes.Sum(s => s.Aggregate(1L, (a, b) => a * b)), grokfast.ElementCount);
        Assert.Equal(Shapes.Length, grokfast.GradientCopies);  // each fresh gradient adopted once, into its dtype's buffer
        // 1,857 16-bit elements at 12 bytes and 46 float32 ones at 16, each read once more by the guard: 14.1 on average.
        Assert.Equal(14, grokfast.BytesPerElement);
        grokfast.SkipNonFinite = false;
        Assert.Equal(12, grokfast.BytesPerElement);
        grokfast.SkipNonFinite = true;
        MixedDtypes.SetGradients(model, Mixed, step: 1);
        grokfast.step();
        Assert.Equal(Shapes.Length, grokfast.GradientCopies);  // then written in place: views stay views
        foreach ((TorchSharp.Modules.Parameter p, ScalarType dtype) in model.Parameters.Zip(Mixed))
        {
            using Tensor grad = p.grad!;
            Assert.Equal(dtype, grad.dtype);
        }
    }

    [Theory]
    [InlineData(ScalarType.Float16, 70000f)]
    [InlineData(ScalarType.Float16, float.NaN)]
    [InlineData(ScalarType.BFloat16, float.PositiveInfinity)]
    public void GuardedStep_WithANonFiniteHalfPrecisionGradient_LeavesEveryGroupUntouched(ScalarType dtype, float value)
    {
        using var model = new DtypeModule(Shapes, Mixed);
        using var grokfast = new EmaFilter(model, alpha: 0.9, lamb: 2);
        MixedDtypes.SetGradients(model, Mixed, step: 0);
        grokfast.step();
        MixedDtypes.SetGradients(model, Mixed, step: 1);
        int index = Array.IndexOf(Mixed, dtype);
        using (Tensor grad = model.Parameters[index].grad!)
        using (torch.no_grad())
            grad.view(-1)[3] = value;  // 70000 overflows float16 to +Inf.
        GradientFilterState before = grokfast.state_dict();
        byte[][] gradientsBefore = Enumerable.Range(0, Shapes.Length).Select(model.GradientBytes).ToArray();

        grokfast.step();

        Assert.True(grokfast.LastStepSkipped);
        Assert.Equal(1, grokfast.SkippedStepCount);
        GradientFilterState after = grokfast.state_dict();
        Assert.Equal(before.StepCount, after.StepCount);
        Assert.Equal(before.Buffers["average"], after.Buffers["average"]);
        for (int i = 0; i < Shapes.Length; i++) Assert.Equal(gradientsBefore[i], model.GradientBytes(i));
    }

    [Theory]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void Checkpoint_OfAModelOfMixedDtypes_ResumesBitForBit(string kind)
    {
        using var model = new DtypeModule(Shapes, Mixed);
        using GradientFilter grokfast = Create(kind, model, KernelBackend.Cpu);
        for (int step = 0; step < 7; step++) Step(model, grokfast, step);
        using var saved = new MemoryStream();
        grokfast.state_dict().Save(saved);
        var continued = new List<byte[]>();
        for (int step = 7; step < 14; step++) continued.AddRange(Step(model, grokfast, step));

        using var resumedModel = new DtypeModule(Shapes, Mixed);
        using GradientFilter resumed = Create(kind, resumedModel, KernelBackend.Cpu);
        saved.Position = 0;
        resumed.load_state_dict(GradientFilterState.Load(saved));
        var replayed = new List<byte[]>();
        for (int step = 7; step < 14; step++) replayed.AddRange(Step(resumedModel, resumed, step));

        Assert.Equal(continued, replayed);
        GradientFilterState expected = grokfast.state_dict(), actual = resumed.state_dict();
        foreach (string name in expected.Buffers.Keys) Assert.Equal(expected.Buffers[name], actual.Buffers[name]);
    }

    private static byte[][] Step(DtypeModule model, GradientFilter grokfast, int step)
    {
        MixedDtypes.SetGradients(model, Mixed, step);
        grokfast.step();
        return Enumerable.Range(0, Shapes.Length).Select(model.GradientBytes).ToArray();
    }

    /// <summary>
    /// Runs the filter on <paramref name="dtypes"/> parameters beside the float32 filter on a float32 model of the same
    /// shapes laid out as the filter lays the dtypes out (grouped by dtype), fed the widened gradients; after every step
    /// each gradient must be the reference's rounded to its dtype, and the state the reference's.
    /// </summary>
    private static void AssertMatchesFloat32Filter(string kind, ScalarType[] dtypes, KernelBackend backend)
    {
        using var model = new DtypeModule(Shapes, dtypes);
        using DtypeModule reference = MixedDtypes.Float32Twin(dtypes);
        using GradientFilter grokfast = Create(kind, model, backend);
        using GradientFilter expected = Create(kind, reference, KernelBackend.Cpu);
        bool mixed = dtypes.Distinct().Count() > 1;
        for (int step = 0; step < Steps; step++)
        {
            MixedDtypes.SetGradients(model, dtypes, step, reference);
            grokfast.step();
            expected.step();

            for (int i = 0; i < dtypes.Length; i++)
            {
                using Tensor referenceGradient = reference.Parameters[MixedDtypes.TwinIndex(dtypes, i)].grad!;
                using Tensor rounded = referenceGradient.to(dtypes[i]).contiguous();
                Assert.True(rounded.bytes.SequenceEqual(model.GradientBytes(i)), $"{kind}: parameter {i} ({dtypes[i]}) differs at step {step}.");
            }
            GradientFilterState actualState = grokfast.state_dict(), expectedState = expected.state_dict();
            foreach ((string name, byte[] bytes) in expectedState.Buffers)
            {
                // The windowed mean keeps one ring per dtype, so a mixed model's ring is laid out otherwise; its sums are not.
                if (mixed && name == "ring") continue;
                Assert.True(bytes.SequenceEqual(actualState.Buffers[name]), $"{kind}: state '{name}' differs at step {step}.");
            }
        }
    }

    private static GradientFilter Create(string kind, Module model, KernelBackend backend) => kind switch
    {
        "ema" => new EmaFilter(model, alpha: 0.9, lamb: 2.0, backend: backend),
        "ma" => new WindowedMeanFilter(model, window_size: 5, lamb: 2.0, backend: backend),
        "kalman" => new KalmanFilter(model, process_noise: 1e-3, measurement_noise: 1e-2, lamb: 2.0, backend: backend),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
