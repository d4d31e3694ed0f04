using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Grokfast.Tests.Interop;

/// <summary>A filter built for some of a model's parameters filters those and leaves the others' gradients alone.</summary>
public sealed class FilterSubsetTests
{
    [Fact]
    public void FilterOfTwoParameters_FiltersThoseTwo_AndLeavesTheOthersGradientsAsTheyWere()
    {
        using var model = TinyMlp.CreateLinear();
        Parameter[] parameters = [.. model.parameters()];
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var filter = new EmaFilter([parameters[0], parameters[2]], alpha: 0.9, lamb: 2.0);
        TinyMlp.Backward(model, x, y);
        float[][] raw = parameters.Select(p => TinyMlp.Flatten([p.grad!])).ToArray();

        filter.step();

        // The average starts at the first gradient (alpha·g + (1 − alpha)·g, as the reference's first update), then g + lamb·average,
        // each operation rounded in float32 as the pass rounds it.
        float alpha = 0.9f, oneMinusAlpha = (float)(1 - 0.9);
        foreach (int i in new[] { 0, 2 }) Assert.Equal(raw[i].Select(g => g + 2f * (alpha * g + oneMinusAlpha * g)), TinyMlp.Flatten([parameters[i].grad!]));
        foreach (int i in new[] { 1, 3 }) Assert.Equal(raw[i], TinyMlp.Flatten([parameters[i].grad!]));
        Assert.Equal(2, filter.ParameterCount);
        Assert.Equal(31 * 7 + 3 * 31, filter.ElementCount);
    }
}
