// In-cache step times of the filters (float32, bfloat16, float64) and the fused optimizers (float32, bfloat16) on the
// grokking transformer's parameter count (422,784 elements in 26 tensors, zero gradients), where compute and per-step
// overheads show rather than memory bandwidth. Prints one line per figure: "<optimizer|filter> <dtype> <filter>
// <microseconds per step>", the least of 30 blocks of 100 steps after 200 warm-up steps. run.sh builds it against two
// commits and alternates them.
using System.Diagnostics;
using Grokfast.Filters;
using Grokfast.Optim;
using TorchSharp;
using static TorchSharp.torch;

const long Elements = 422_784;
const int Tensors = 26;

foreach (ScalarType dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float64 })
{
    foreach (string filter in new[] { "none", "ema", "ma", "kalman" })
    {
        // The fused optimizers refuse float64 parameters; the filters take them.
        if (dtype != ScalarType.Float64) Print("optimizer", dtype, filter, model => new GrokfastAdam(model, grokfast: Fused(filter)), o => ((GrokfastAdam)o).step());
        if (filter != "none") Print("filter", dtype, filter, model => Alone(model, filter), f => ((GradientFilter)f).step());
    }
}

static void Print(string kind, ScalarType dtype, string filter, Func<nn.Module, IDisposable> create, Action<IDisposable> step)
{
    using var model = new ZeroGradientModel(Elements, Tensors, dtype);
    using IDisposable stepper = create(model);
    for (int i = 0; i < 200; i++) step(stepper);
    double best = double.MaxValue;
    var clock = new Stopwatch();
    for (int block = 0; block < 30; block++)
    {
        clock.Restart();
        for (int i = 0; i < 100; i++) step(stepper);
        best = Math.Min(best, clock.Elapsed.TotalMicroseconds / 100);
    }
    Console.WriteLine($"{kind} {dtype.ToString().ToLowerInvariant()} {filter} {best:F1}");
}

// The hyperparameters the throughput verb uses.
static GrokfastFilter? Fused(string filter) => filter switch
{
    "ema" => GrokfastFilter.Ema(alpha: 0.98, lamb: 2.0),
    "ma" => GrokfastFilter.WindowedMean(window_size: 100, lamb: 5.0),
    "kalman" => GrokfastFilter.Kalman(),
    _ => null,
};

static GradientFilter Alone(nn.Module model, string filter) => filter switch
{
    "ema" => new EmaFilter(model, alpha: 0.98, lamb: 2.0),
    "ma" => new WindowedMeanFilter(model, window_size: 100, lamb: 5.0),
    _ => new KalmanFilter(model),
};

/// <summary>Parameters of one dtype, each with a zero gradient (Adam's update of a zero gradient is zero: steps stay finite).</summary>
internal sealed class ZeroGradientModel : nn.Module
{
    public ZeroGradientModel(long elements, int tensors, ScalarType dtype)
        : base(nameof(ZeroGradientModel))
    {
        for (int i = 0; i < tensors; i++)
        {
            var parameter = new TorchSharp.Modules.Parameter(torch.randn(elements / tensors + (i < elements % tensors ? 1 : 0)).to(dtype));
            parameter.grad = torch.zeros_like(parameter);
            register_parameter($"p{i}", parameter);
        }
    }
}
