using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Robustness;

public sealed class NonFiniteGradientTests
{
    private const float Lamb = 5f;

    public static TheoryData<string, float, string> Cases()
    {
        var data = new TheoryData<string, float, string>();
        foreach (string filter in new[] { "ema", "ma", "kalman" })
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                foreach (string where in new[] { "first", "middle", "last" })
                    data.Add(filter, bad, where);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Step_WithANonFiniteGradient_SkipsAndLeavesStateAndGradientsUntouched(string filter, float bad, string where)
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using GradientFilter grokfast = Create(filter, model, skipNonFinite: true);
        grokfast.step();
        TinyMlp.Backward(model, x, y);
        Poison(model, bad, where);
        GradientFilterState before = grokfast.state_dict();
        float[] gradientsBefore = TinyMlp.Flatten(model.parameters().Select(p => p.grad!));

        grokfast.step();

        Assert.True(grokfast.LastStepSkipped);
        GradientFilterState after = grokfast.state_dict();
        Assert.Equal(before.StepCount, after.StepCount);
        foreach (string name in before.Buffers.Keys) Assert.Equal(before.Buffers[name], after.Buffers[name]);
        Assert.Equal(gradientsBefore, TinyMlp.Flatten(model.parameters().Select(p => p.grad!)));
    }

    [Fact]
    public void Step_AfterASkippedStep_FiltersAgainAsTheFirstStep()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using GradientFilter grokfast = Create("ema", model, skipNonFinite: true);
        Poison(model, float.NaN, "middle");
        grokfast.step();
        using (torch.no_grad()) foreach (var p in model.parameters()) p.grad!.zero_();
        TinyMlp.Backward(model, x, y);
        float[] raw = TinyMlp.Flatten(model.parameters().Select(p => p.grad!));

        grokfast.step();

        Assert.False(grokfast.LastStepSkipped);
        Assert.Equal(1, grokfast.StepCount);
        Assert.Equal(1, grokfast.SkippedStepCount);
        // The skipped step did not start the average: this one did, so it returns g * (1 + lamb).
        FloatAssert.Close(raw.Select(g => g * (1 + Lamb)).ToArray(), TinyMlp.Flatten(model.parameters().Select(p => p.grad!)), 1e-6, 1e-7);
    }

    [Fact]
    public void Step_WithTheGuardOff_FiltersNonFiniteGradients()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using GradientFilter grokfast = Create("ema", model, skipNonFinite: false);
        Poison(model, float.PositiveInfinity, "first");
        float[] raw = TinyMlp.Flatten(model.parameters().Select(p => p.grad!));

        grokfast.step();

        Assert.False(grokfast.LastStepSkipped);
        Assert.Equal(1, grokfast.StepCount);
        float[] filtered = TinyMlp.Flatten(model.parameters().Select(p => p.grad!));
        Assert.Equal(float.PositiveInfinity, filtered[0]);
        FloatAssert.Close(raw.Skip(1).Select(g => g * (1 + Lamb)).ToArray(), filtered.AsSpan(1), 1e-6, 1e-7);
    }

    private static GradientFilter Create(string filter, Module model, bool skipNonFinite) => filter switch
    {
        "ema" => new EmaFilter(model, lamb: Lamb, skip_non_finite: skipNonFinite),
        "ma" => new WindowedMeanFilter(model, window_size: 3, skip_non_finite: skipNonFinite),
        _ => new KalmanFilter(model, skip_non_finite: skipNonFinite),
    };

    /// <summary>Writes <paramref name="bad"/> into the first element of the first gradient, the middle of the middle one, or the last of the last.</summary>
    private static void Poison(Module model, float bad, string where)
    {
        var parameters = model.parameters().ToArray();
        var parameter = where switch { "first" => parameters[0], "last" => parameters[^1], _ => parameters[parameters.Length / 2] };
        using Tensor flat = parameter.grad!.view(-1);
        long index = where switch { "first" => 0, "last" => flat.numel() - 1, _ => flat.numel() / 2 };
        using (torch.no_grad()) flat[index] = bad;
    }
}
