using BenchmarkDotNet.Attributes;
using Grokfast.Bench.Throughput;
using Grokfast.Filters;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Micro;

/// <summary>
/// One filter step, fused against the literal tensor-op port of the reference (the baseline) and the best
/// in-place tensor ops, plus a plain copy of the bytes the fused step moves, on each shape.
/// </summary>
/// <remarks>
/// The gradients are zeros: a streaming pass costs the same whatever the values, and zeros stay zeros, so
/// repeated steps neither overflow to infinity nor sink into slow subnormals. Everything runs synchronously
/// on the CPU, so each call returns with its work done.
/// </remarks>
[MemoryDiagnoser]
public class FilterStepBenchmarks
{
    private Module? fusedModel, literalModel, inPlaceModel;
    private GradientFilter? fused;
    private (Action Step, IDisposable Owner) literal, inPlace;
    private Tensor? copySource, copyTarget;

    /// <summary>ema, ma (window 100) or kalman.</summary>
    [Params("ema", "ma", "kalman")]
    public string Filter { get; set; } = "ema";

    /// <summary>Which parameter tensors.</summary>
    [Params(BenchmarkShape.Transformer, BenchmarkShape.TenMillionIn20, BenchmarkShape.OneMillionIn200)]
    public BenchmarkShape Shape { get; set; }

    /// <summary>Bytes the fused step moves per element (kernels.md); the GB/s column reads it.</summary>
    public int BytesPerElement => Versions.BytesPerElement;

    /// <summary>Gradient elements; the GB/s column reads it.</summary>
    public long Elements { get; private set; }

    /// <summary>The models of the fused, literal and in-place versions, in that order, for tests that check they compute the same.</summary>
    internal IReadOnlyList<Module> Models => [fusedModel!, literalModel!, inPlaceModel!];

    private FilterVersions Versions => FilterVersions.All.Single(v => v.Name == Filter);

    [GlobalSetup]
    public void Setup()
    {
        fusedModel = BenchmarkShapes.Create(Shape);
        literalModel = BenchmarkShapes.Create(Shape);
        inPlaceModel = BenchmarkShapes.Create(Shape);
        Elements = fusedModel.parameters().Sum(p => p.numel());
        fused = Versions.Fused(fusedModel);
        literal = Versions.Literal(literalModel);
        inPlace = Versions.InPlace(inPlaceModel);
        // The MA window fills before measuring, so every version is in its steady state.
        for (int i = 0; i < Versions.WarmupSteps; i++)
        {
            fused.step();
            literal.Step();
            inPlace.Step();
        }
        copySource = torch.zeros(Elements * BytesPerElement / 2 / sizeof(float));
        copyTarget = torch.empty_like(copySource);
    }

    [Benchmark(Baseline = true, Description = "literal port")]
    public void Literal() => literal.Step();

    [Benchmark(Description = "in-place ops")]
    public void InPlace() => inPlace.Step();

    [Benchmark(Description = "fused")]
    public void Fused() => fused!.step();

    [Benchmark(Description = "copy of the fused bytes")]
    public void Copy() => copyTarget!.copy_(copySource!);

    [GlobalCleanup]
    public void Cleanup()
    {
        fused?.Dispose();
        literal.Owner.Dispose();
        inPlace.Owner.Dispose();
        fusedModel?.Dispose();
        literalModel?.Dispose();
        inPlaceModel?.Dispose();
        copySource?.Dispose();
        copyTarget?.Dispose();
    }
}
