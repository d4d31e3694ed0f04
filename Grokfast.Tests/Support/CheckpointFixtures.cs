using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Optim;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Support;

/// <summary>
/// The states behind the committed checkpoint files of earlier format versions (<c>Checkpoints/Fixtures/</c>): each a
/// filter or optimizer on <see cref="TinyMlp"/> after three deterministic steps on the CPU, so that a test can rebuild
/// the state a fixture must load as.
/// </summary>
internal static class CheckpointFixtures
{
    public static IReadOnlyList<string> Names { get; } = ["ema", "ma", "kalman", "adamw+ema"];

    /// <summary>A fresh model and the filter or optimizer of <paramref name="name"/> for it, not yet stepped.</summary>
    public static (Module<Tensor, Tensor> Model, IDisposable Owner, Func<GradientFilterState> StateDict, Action<string> Load) Create(string name)
    {
        Module<Tensor, Tensor> model = TinyMlp.Create();
        switch (name)
        {
            case "adamw+ema":
                var adamw = new GrokfastAdamW(model, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2));
                return (model, adamw, adamw.checkpoint, adamw.load);
            default:
                GradientFilter filter = name switch
                {
                    "ema" => new EmaFilter(model, alpha: 0.9, lamb: 2),
                    "ma" => new WindowedMeanFilter(model, window_size: 5, lamb: 1),
                    _ => new KalmanFilter(model),
                };
                return (model, filter, filter.state_dict, filter.load);
        }
    }

    /// <summary>Three steps of <paramref name="name"/>'s filter or optimizer on fixed data, then its state.</summary>
    public static GradientFilterState Stepped(string name)
    {
        var (model, owner, stateDict, _) = Create(name);
        using (model)
        using (owner)
        {
            (Tensor x, Tensor y) = TinyMlp.Data();
            for (int step = 0; step < 3; step++)
            {
                TinyMlp.Backward(model, x, y);
                if (owner is GradientFilter filter) filter.step();
                else ((FusedAdamOptimizer)owner).step();
                foreach (var p in model.parameters()) p.grad?.zero_();
            }
            return stateDict();
        }
    }
}
