using Grokfast.Bench.Support;

namespace Grokfast.Tests.Bench;

public sealed class SyntheticModelTests
{
    [Fact]
    public void Gpt2SmallShapes_AreTheIssuesBenchmarkSet()
    {
        // GPT-2 small with its output layer tied: 148 tensors, 124,439,808 parameters.
        Assert.Equal(148, SyntheticModel.Gpt2SmallShapes.Count);
        Assert.Equal(124_439_808, SyntheticModel.Gpt2SmallShapes.Sum(shape => shape.Aggregate(1L, (product, d) => product * d)));
    }

    [Fact]
    public void ShapedModel_HasParametersOfTheShapesWithGradients()
    {
        long[][] shapes = [[3, 5], [7], [2, 2, 2]];
        using var model = new SyntheticModel(shapes, TorchSharp.torch.CPU);

        Assert.Equal(shapes, model.parameters().Select(p => p.shape));
        Assert.All(model.parameters(), p => Assert.Equal(p.shape, p.grad!.shape));
    }
}
