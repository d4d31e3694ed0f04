using Grokfast.Bench.Grokking;
using Grokfast.Bench.Support;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Micro;

/// <summary>The sets of parameter tensors the micro benchmarks filter.</summary>
public enum BenchmarkShape
{
    /// <summary>The grokking transformer's real parameters (422,784 elements in 26 tensors).</summary>
    Transformer,

    /// <summary>10 M elements in 20 tensors: bandwidth.</summary>
    TenMillionIn20,

    /// <summary>1 M elements in 200 tensors: per-tensor launch overhead.</summary>
    OneMillionIn200,

    /// <summary>1,000 elements in 3 tensors: for a quick check that the suite runs, not for figures.</summary>
    Tiny,
}

/// <summary>Builds the module of each shape, every parameter with a gradient.</summary>
internal static class BenchmarkShapes
{
    public static Module Create(BenchmarkShape shape) => shape switch
    {
        BenchmarkShape.Transformer => WithZeroGradients(new GrokkingTransformer(ModularMultiplication.VocabularyOf(ModularMultiplication.PaperModulus))),
        BenchmarkShape.TenMillionIn20 => new SyntheticModel(10_000_000, 20, zeroGradients: true),
        BenchmarkShape.OneMillionIn200 => new SyntheticModel(1_000_000, 200, zeroGradients: true),
        BenchmarkShape.Tiny => new SyntheticModel(1_000, 3, zeroGradients: true),
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, null),
    };

    private static Module WithZeroGradients(Module module)
    {
        foreach (var parameter in module.parameters()) parameter.grad = TorchSharp.torch.zeros_like(parameter);
        return module;
    }
}
