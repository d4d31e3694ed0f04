using System.Text.Json;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

/// <summary>Every fused filter against the independent PyTorch reference, over the whole recorded trace.</summary>
public sealed class GoldenTraceTests
{
    public static TheoryData<string, KernelBackend> Cases()
    {
        var data = new TheoryData<string, KernelBackend>();
        foreach (string name in GoldenTraces.CaseNames)
            foreach (KernelBackend backend in new[] { KernelBackend.Cpu, KernelBackend.IlgpuCpu })
                data.Add(name, backend);
        return data;
    }

    [Fact]
    public void GoldenCases_AllButWarmupWithTrigger_ChangeTheGradients()
    {
        (float[] raw, _) = GoldenTraces.Gradients();
        foreach (string name in GoldenTraces.CaseNames)
        {
            // The reference's ablation switch: with warmup and trigger both on, gradfilter_ma never adds anything.
            bool neverApplies = name.EndsWith("warmup1_trigger1", StringComparison.Ordinal);
            Assert.True(neverApplies == raw.SequenceEqual(GoldenTraces.Expected(name).Data),
                neverApplies ? $"{name} should leave the gradients as they are" : $"{name} leaves the gradients as they are, so it proves nothing");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedFilter_OverTheWholeTrace_MatchesThePyTorchReference(string name, KernelBackend backend)
    {
        (float[] raw, long[] traceShape) = GoldenTraces.Gradients();
        (float[] expected, _) = GoldenTraces.Expected(name);
        int steps = (int)traceShape[0], width = (int)traceShape[1];
        using var model = new TraceModule(GoldenTraces.Shapes);
        using GradientFilter filter = Create(name, model, backend);
        Assert.Equal(backend, filter.Backend);
        // MA sums 50 float32 gradients in the reference; our float64 sum is closer to exact, hence the wider bound.
        double rtol = name.StartsWith("ma", StringComparison.Ordinal) ? 1e-5 : 1e-6;

        for (int step = 0; step < steps; step++)
        {
            model.SetGradients(raw.AsSpan(step * width, width));
            filter.step();
            FloatAssert.Close(expected.AsSpan(step * width, width), model.Gradients(), rtol, rtol * 1e-1, $"{name}, step {step}: ");
        }
    }

    private static GradientFilter Create(string name, Module model, KernelBackend backend)
    {
        JsonElement o = GoldenTraces.Options(name);
        double Number(string key) => o.GetProperty(key).GetDouble();
        return name.Split('_')[0] switch
        {
            "ema" => new EmaFilter(model, Number("alpha"), Number("lamb"), backend),
            "kalman" => new KalmanFilter(model, Number("process_noise"), Number("measurement_noise"), Number("lamb"), backend),
            "ma" => new WindowedMeanFilter(model, o.GetProperty("window_size").GetInt32(), Number("lamb"),
                o.GetProperty("filter_type").GetString() == "mean" ? WindowAggregation.Mean : WindowAggregation.Sum,
                o.GetProperty("warmup").GetBoolean(), o.GetProperty("trigger").GetBoolean(), backend),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }
}
