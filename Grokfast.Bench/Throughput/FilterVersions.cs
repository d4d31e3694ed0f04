using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Reference.Ports;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Throughput;

/// <summary>
/// One filter's three versions under test — fused, the literal tensor-op port, the best in-place ops — with
/// the paper's hyperparameters, and the bytes per element the fused step moves as it runs by default: the guard's read of
/// the gradients, then the pass (kernels.md).
/// </summary>
internal sealed record FilterVersions(
    string Name,
    int BytesPerElement,
    int WarmupSteps,
    Func<Module, GradientFilter> Fused,
    Func<Module, (Action Step, IDisposable Owner)> Literal,
    Func<Module, (Action Step, IDisposable Owner)> InPlace)
{
    /// <summary>The MA window the benchmarks use (the paper's).</summary>
    public const int Window = 100;

    public static IReadOnlyList<FilterVersions> All { get; } =
    [
        new("ema", Float32Bytes<EmaConstants>(), 3,
            m => new EmaFilter(m, alpha: 0.98, lamb: 2.0),
            m => { var f = new ReferenceEma(m, alpha: 0.98, lamb: 2.0); return (f.step, f); },
            m => { var f = new InPlaceEma(m, alpha: 0.98, lamb: 2.0); return (f.step, f); }),
        // The window must fill before the steady state (and the literal port's O(window) re-sum) begins.
        new("ma", Float32Bytes<WindowedMeanConstants>(), Window + 2,
            m => new WindowedMeanFilter(m, window_size: Window, lamb: 5.0),
            m => { var f = new ReferenceWindowedMean(m, windowSize: Window, lamb: 5.0); return (f.step, f); },
            m => { var f = new InPlaceWindowedMean(m, windowSize: Window, lamb: 5.0); return (f.step, f); }),
        new("kalman", Float32Bytes<KalmanConstants>(), 3,
            m => new KalmanFilter(m),
            m => { var f = new ReferenceKalman(m); return (f.step, f); },
            m => { var f = new InPlaceKalman(m); return (f.step, f); }),
    ];

    private static int Float32Bytes<TFilter>()
        where TFilter : unmanaged, IFilterStep<TFilter> => sizeof(float) + Passes.BytesPerElement<TFilter>(GradientFormat.Float32, PassUpdate.WriteBack);
}
