using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Reference.Ports;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

/// <summary>Each fused filter in a 30-step TorchSharp training loop against its tensor-op reference.</summary>
public sealed class FilterTrainingTests
{
    private const int Steps = 30;

    public static TheoryData<string, KernelBackend> FiltersAndBackends()
    {
        var data = new TheoryData<string, KernelBackend>();
        foreach (string filter in new[] { "ema", "ma-mean", "ma-sum-nowarmup", "kalman", "kalman-q0" })
            foreach (KernelBackend backend in new[] { KernelBackend.Cpu, KernelBackend.IlgpuCpu })
                data.Add(filter, backend);
        return data;
    }

    [Theory]
    [MemberData(nameof(FiltersAndBackends))]
    public void FusedFilter_In30StepsOfTraining_MatchesReferenceOps(string filter, KernelBackend backend)
    {
        float[] fused = Train(model => Fused(filter, model, backend));
        float[] reference = Train(model => Reference(filter, model));

        FloatAssert.Close(reference, fused, rtol: 0, atol: 1e-6);
    }

    [Fact]
    public void FusedFilter_ChangesTraining_ComparedWithNoFilter()
    {
        float[] fused = Train(model => Fused("ema", model, KernelBackend.Cpu));
        float[] plain = Train(_ => (() => { }, null));

        // Far beyond rounding: the filter steers training, it does not only perturb the last bits.
        double largest = plain.Zip(fused, (p, f) => Math.Abs(p - f)).Max();
        Assert.True(largest > 1e-2, $"the weights with and without the filter differ by at most {largest}");
    }

    private static (Action, IDisposable?) Fused(string filter, Module model, KernelBackend backend)
    {
        GradientFilter fused = filter switch
        {
            "ema" => new EmaFilter(model, alpha: 0.9, lamb: 2.0, backend: backend),
            "ma-mean" => new WindowedMeanFilter(model, window_size: 5, lamb: 5.0, backend: backend),
            "ma-sum-nowarmup" => new WindowedMeanFilter(model, window_size: 5, lamb: 0.5, filter_type: WindowAggregation.Sum, warmup: false, backend: backend),
            "kalman" => new KalmanFilter(model, backend: backend),
            "kalman-q0" => new KalmanFilter(model, process_noise: 0, backend: backend),
            _ => throw new ArgumentOutOfRangeException(nameof(filter)),
        };
        // A silent fallback to another backend would make the backend half of the theory test nothing new.
        Assert.Equal(backend, fused.Backend);
        return (fused.step, fused);
    }

    private static (Action, IDisposable?) Reference(string filter, Module model)
    {
        switch (filter)
        {
            case "ema":
                var ema = new ReferenceEma(model, alpha: 0.9, lamb: 2.0);
                return (ema.step, ema);
            case "ma-mean":
                var mean = new ReferenceWindowedMean(model, windowSize: 5, lamb: 5.0);
                return (mean.step, mean);
            case "ma-sum-nowarmup":
                var sum = new ReferenceWindowedMean(model, windowSize: 5, lamb: 0.5, filterType: WindowAggregation.Sum, warmup: false);
                return (sum.step, sum);
            case "kalman":
                var kalman = new ReferenceKalman(model);
                return (kalman.step, kalman);
            case "kalman-q0":
                var kalmanQ0 = new ReferenceKalman(model, processNoise: 0);
                return (kalmanQ0.step, kalmanQ0);
            default:
                throw new ArgumentOutOfRangeException(nameof(filter));
        }
    }

    /// <summary>Trains a fresh tiny MLP with Adam, calling the filter's step between backward and the optimizer.</summary>
    private static float[] Train(Func<Module<Tensor, Tensor>, (Action Step, IDisposable? Owner)> makeFilter)
    {
        using var model = TinyMlp.Create();
        (Tensor inputs, Tensor targets) = TinyMlp.Data();
        using var optimizer = torch.optim.Adam(model.parameters(), lr: 1e-2);
        (Action filterStep, IDisposable? owner) = makeFilter(model);
        using IDisposable? filter = owner;
        for (int step = 0; step < Steps; step++)
        {
            TinyMlp.Backward(model, inputs, targets);
            filterStep();
            optimizer.step();
            optimizer.zero_grad();
        }
        return TinyMlp.Flatten(model.parameters());
    }
}
