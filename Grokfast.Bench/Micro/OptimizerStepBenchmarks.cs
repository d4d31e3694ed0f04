using BenchmarkDotNet.Attributes;
using Grokfast.Bench.Support;
using Grokfast.Bench.Throughput;
using Grokfast.Filters;
using Grokfast.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Micro;

/// <summary>
/// One optimizer step: the filter's <c>step()</c> followed by TorchSharp's <c>Adam.step()</c> (the baseline) against the
/// fused optimizer doing both in one pass, for each filter and none, on the grokking transformer and on 10 M parameters.
/// </summary>
/// <remarks>Zero gradients, as in <see cref="FilterStepBenchmarks"/>: Adam's update of a zero gradient is zero, so repeated steps stay finite.</remarks>
[MemoryDiagnoser]
public class OptimizerStepBenchmarks
{
    private Module? fusedModel, separateModel;
    private FusedAdamOptimizer? fused;
    private GradientFilter? separateFilter;
    private optim.Optimizer? separateAdam;

    /// <summary>none (Adam alone), ema, ma (window 100) or kalman.</summary>
    [Params("none", "ema", "ma", "kalman")]
    public string Filter { get; set; } = "none";

    /// <summary>Which parameter tensors.</summary>
    [Params(BenchmarkShape.Transformer, BenchmarkShape.TenMillionIn20)]
    public BenchmarkShape Shape { get; set; }

    /// <summary>The models of the fused and separate versions, in that order, for tests that check they compute the same.</summary>
    internal IReadOnlyList<Module> Models => [fusedModel!, separateModel!];

    [GlobalSetup]
    public void Setup()
    {
        fusedModel = BenchmarkShapes.Create(Shape);
        separateModel = BenchmarkShapes.Create(Shape);
        fused = Create(fusedModel, Filter);
        FilterVersions? versions = FilterVersions.All.SingleOrDefault(v => v.Name == Filter);
        separateFilter = versions?.Fused(separateModel);
        separateAdam = torch.optim.Adam(separateModel.parameters());
        for (int i = 0; i < (versions?.WarmupSteps ?? 3); i++)
        {
            Fused();
            Separate();
        }
    }

    [Benchmark(Baseline = true, Description = "filter, then TorchSharp's Adam")]
    public void Separate()
    {
        separateFilter?.step();
        separateAdam!.step();
    }

    [Benchmark(Description = "fused")]
    public void Fused() => fused!.step();

    [GlobalCleanup]
    public void Cleanup()
    {
        fused?.Dispose();
        separateFilter?.Dispose();
        separateAdam?.Dispose();
        fusedModel?.Dispose();
        separateModel?.Dispose();
    }

    /// <summary>The fused optimizer with the filter the throughput verb times (<see cref="OptimizerMeasurement"/>), at Adam's defaults.</summary>
    internal static FusedAdamOptimizer Create(Module model, string filter) => new GrokfastAdam(model, grokfast: OptimizerMeasurement.Fused(filter));

    /// <summary>Bytes the fused step moves per element with <paramref name="filter"/>, read off a one-parameter optimizer.</summary>
    internal static int BytesPerElementOf(string filter)
    {
        using var model = new SyntheticModel(8, 1, zeroGradients: true);
        using FusedAdamOptimizer optimizer = Create(model, filter);
        return optimizer.BytesPerElement;
    }
}
