using System.Text.Json;
using Grokfast.Filters;
using Grokfast.Optim;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Optim;

/// <summary>
/// The fused optimizers against the independent PyTorch reference (tools/golden/make_golden.py): each filter, or none,
/// followed by <c>torch.optim.Adam</c> or <c>AdamW</c>, fed the recorded gradients — parameters after every step,
/// moments and the filter's state after the last.
/// </summary>
public sealed class OptimizerGoldenTraceTests
{
    public static TheoryData<string> Cases() => new(GoldenTraces.OptimizerCaseNames);

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedOptimizer_OverTheWholeTrace_MatchesThePyTorchReference(string name)
    {
        JsonElement golden = GoldenTraces.OptimizerCase(name);
        (float[] raw, long[] traceShape) = GoldenTraces.Gradients();
        int width = (int)traceShape[1], steps = GoldenTraces.OptimizerSteps;
        float[] expected = GoldenTraces.Read(golden.GetProperty("parameters").GetString()!);
        using var model = new TraceModule(GoldenTraces.Shapes);
        model.SetParameters(GoldenTraces.OptimizerInitial());
        using FusedAdamOptimizer optimizer = Create(golden, model);

        for (int step = 0; step < steps; step++)
        {
            model.SetGradients(raw.AsSpan(step * width, width));
            optimizer.step();
            // The gradients come from the trace, not the model, so nothing feeds a difference back: what is left is
            // PyTorch's fused multiply-adds against our one-by-one rounding, a few ulps per step (kernels.md).
            FloatAssert.Close(expected.AsSpan(step * width, width), model.Values(), 1e-5, 1e-6, $"{name}, step {step}, parameters: ");
        }

        Dictionary<string, float[]> state = FusedAdamOptimizerTests.State(optimizer);
        FloatAssert.Close(GoldenTraces.Read(golden.GetProperty("exp_avg").GetString()!), state["exp_avg"], 1e-4, 1e-7, $"{name}, exp_avg: ");
        FloatAssert.Close(GoldenTraces.Read(golden.GetProperty("exp_avg_sq").GetString()!), state["exp_avg_sq"], 1e-4, 1e-9, $"{name}, exp_avg_sq: ");
        if (golden.GetProperty("filter_state").GetString() is string filterState)
        {
            string key = golden.GetProperty("filter").GetString() == "ema" ? "average" : "estimates";
            FloatAssert.Close(GoldenTraces.Read(filterState), state[key], 1e-5, 1e-7, $"{name}, {key}: ");
        }
        // The trace moves the parameters well beyond any tolerance above.
        Assert.True(expected.AsSpan((steps - 1) * width, width).ToArray().Zip(GoldenTraces.OptimizerInitial(), (a, b) => Math.Abs(a - b)).Max() > 0.1);
    }

    private static FusedAdamOptimizer Create(JsonElement golden, TraceModule model)
    {
        JsonElement adam = GoldenTraces.Adam;
        double Adam(string key) => adam.GetProperty(key).GetDouble();
        JsonElement o = golden.GetProperty("options");
        double Number(string key) => o.GetProperty(key).GetDouble();
        GrokfastFilter? filter = golden.GetProperty("filter").GetString() switch
        {
            "none" => null,
            "ema" => GrokfastFilter.Ema(Number("alpha"), Number("lamb")),
            "kalman" => GrokfastFilter.Kalman(Number("process_noise"), Number("measurement_noise"), Number("lamb")),
            "ma" => GrokfastFilter.WindowedMean(o.GetProperty("window_size").GetInt32(), Number("lamb"),
                o.GetProperty("filter_type").GetString() == "mean" ? WindowAggregation.Mean : WindowAggregation.Sum,
                o.GetProperty("warmup").GetBoolean(), o.GetProperty("trigger").GetBoolean()),
            var other => throw new ArgumentOutOfRangeException(nameof(golden), other, "Unknown filter."),
        };
        return golden.GetProperty("optimizer").GetString() == "adamw"
            ? new GrokfastAdamW(model, Adam("lr"), Adam("beta1"), Adam("beta2"), Adam("eps"), Adam("weight_decay"), filter)
            : new GrokfastAdam(model, Adam("lr"), Adam("beta1"), Adam("beta2"), Adam("eps"), Adam("weight_decay"), filter);
    }
}
