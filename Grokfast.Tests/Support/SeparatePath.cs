using Grokfast.Filters;
using TorchSharp.Modules;

namespace Grokfast.Tests.Support;

/// <summary>
/// The separate path the fused optimizers are tested against: a filter per parameter group, with the hyperparameters
/// of <c>FusedAdamTrainingTests.Choice</c>, and the owners to dispose when a training run ends.
/// </summary>
internal static class SeparatePath
{
    /// <summary>The filter <paramref name="filter"/> names (none, ema, ma, kalman) on <paramref name="parameters"/>, at amplification <paramref name="lamb"/>.</summary>
    public static GradientFilter? Filter(string filter, IEnumerable<Parameter> parameters, double lamb = 2.0) => filter switch
    {
        "none" => null,
        "ema" => new EmaFilter(parameters, alpha: 0.9, lamb: lamb),
        "ma" => new WindowedMeanFilter(parameters, window_size: 5, lamb: lamb),
        "kalman" => new KalmanFilter(parameters, lamb: lamb),
        _ => throw new ArgumentOutOfRangeException(nameof(filter)),
    };

    /// <summary>Disposes what <paramref name="owned"/> lists when disposed (read then, so it may grow during the run).</summary>
    public sealed class Owners(Func<IEnumerable<IDisposable?>> owned) : IDisposable
    {
        public Owners(IEnumerable<IDisposable?> owned)
            : this(() => owned)
        {
        }

        public void Dispose()
        {
            foreach (IDisposable? o in owned()) o?.Dispose();
        }
    }
}
