using Grokfast.Filters;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Optim;

/// <summary>
/// The fused optimizers in a TorchSharp training loop against the separate path — the library's filter, then
/// TorchSharp's own Adam or AdamW — for every filter and none, with weight decay on and off.
/// </summary>
public sealed class FusedAdamTrainingTests
{
    private const int Steps = 120;
    private const double Lr = 1e-2;

    public static TheoryData<string, bool, double> Cases()
    {
        var data = new TheoryData<string, bool, double>();
        foreach (string filter in new[] { "none", "ema", "ma", "kalman" })
        {
            data.Add(filter, false, 0.0);
            data.Add(filter, false, 0.1);
            data.Add(filter, true, 0.1);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FusedOptimizer_Over120StepsOfTraining_MatchesTheFilterThenTorchSharpsAdam(string filter, bool decoupled, double weightDecay)
    {
        float[] fused = Train(model =>
        {
            FusedAdamOptimizer optimizer = decoupled
                ? new GrokfastAdamW(model, Lr, 0.9, 0.98, weight_decay: weightDecay, grokfast: Choice(filter))
                : new GrokfastAdam(model, Lr, 0.9, 0.98, weight_decay: weightDecay, grokfast: Choice(filter));
            return (optimizer.zero_grad, () => optimizer.step(), optimizer);
        });
        float[] separate = Train(model =>
        {
            GradientFilter? grokfast = Filter(filter, model);
            optim.Optimizer adam = decoupled
                ? torch.optim.AdamW(model.parameters(), Lr, 0.9, 0.98, weight_decay: weightDecay)
                : torch.optim.Adam(model.parameters(), Lr, 0.9, 0.98, weight_decay: weightDecay);
            return (adam.zero_grad, () =>
            {
                grokfast?.step();
                adam.step();
            }, new Both(grokfast, adam));
        });

        // libtorch's CPU kernels behind TorchSharp's Adam contract m·β1 + (1-β1)·g and the addcmul/addcdiv into fused
        // multiply-adds, where every backend of ours rounds each operation: a step's update differs by a few ulps. On a
        // model whose training is not chaotic that drift adds up to < 1e-6 over 120 steps (kernels.md, "Adam and AdamW,
        // fused"), far below one update (lr = 1e-2).
        FloatAssert.Close(separate, fused, rtol: 0, atol: 1e-5);
        Assert.True(separate.Zip(Initial(), (s, i) => Math.Abs(s - i)).Max() > 0.05, "training moved the weights too little to compare");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ParameterWithoutAGradient_IsLeftOutWithItsStepCount_AsTorchSharpsAdamLeavesIt(bool decoupled)
    {
        // Parameter 1 has no gradient at steps 3 and 4: both optimizers leave it (and its moments) alone there, and its
        // later bias corrections count only the steps it took part in.
        float[] fused = Train(model => Fused(decoupled
            ? new GrokfastAdamW(model, Lr, 0.9, 0.98, weight_decay: 0.1)
            : new GrokfastAdam(model, Lr, 0.9, 0.98, weight_decay: 0.1)), leftOut: (1, [3, 4]));
        float[] separate = Train(model =>
        {
            optim.Optimizer adam = decoupled
                ? torch.optim.AdamW(model.parameters(), Lr, 0.9, 0.98, weight_decay: 0.1)
                : torch.optim.Adam(model.parameters(), Lr, 0.9, 0.98, weight_decay: 0.1);
            return (adam.zero_grad, () => adam.step(), adam);
        }, leftOut: (1, [3, 4]));
        float[] everyStep = Train(model => Fused(decoupled
            ? new GrokfastAdamW(model, Lr, 0.9, 0.98, weight_decay: 0.1)
            : new GrokfastAdam(model, Lr, 0.9, 0.98, weight_decay: 0.1)));

        FloatAssert.Close(separate, fused, rtol: 0, atol: 1e-5);
        Assert.True(fused.Zip(everyStep, (a, b) => Math.Abs(a - b)).Max() > 1e-3, "leaving the parameter out changed nothing");
    }

    [Fact]
    public void Filter_ChangesTheFusedStep_ComparedWithNoFilter()
    {
        float[] filtered = Train(model => Fused(new GrokfastAdam(model, Lr, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0))));
        float[] plain = Train(model => Fused(new GrokfastAdam(model, Lr)));

        Assert.True(filtered.Zip(plain, (f, p) => Math.Abs(f - p)).Max() > 1e-2, "the filter did not change the fused step");
    }

    internal static GrokfastFilter? Choice(string filter) => filter switch
    {
        "none" => null,
        "ema" => GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0),
        "ma" => GrokfastFilter.WindowedMean(window_size: 5, lamb: 2.0),
        "kalman" => GrokfastFilter.Kalman(lamb: 2.0),
        _ => throw new ArgumentOutOfRangeException(nameof(filter)),
    };

    private static GradientFilter? Filter(string filter, Module model) => filter switch
    {
        "none" => null,
        "ema" => new EmaFilter(model, alpha: 0.9, lamb: 2.0),
        "ma" => new WindowedMeanFilter(model, window_size: 5, lamb: 2.0),
        "kalman" => new KalmanFilter(model, lamb: 2.0),
        _ => throw new ArgumentOutOfRangeException(nameof(filter)),
    };

    private static (Action, Action, IDisposable) Fused(FusedAdamOptimizer optimizer) => (optimizer.zero_grad, () => optimizer.step(), optimizer);

    private static float[] Initial()
    {
        using var model = TinyMlp.CreateLinear();
        return TinyMlp.Flatten(model.parameters());
    }

    /// <summary>Trains a fresh linear <see cref="TinyMlp"/> for <see cref="Steps"/> steps with the optimizer <paramref name="build"/> gives; returns the weights.</summary>
    /// <param name="build">The optimizer for the model: its zero_grad, its step and what to dispose.</param>
    /// <param name="leftOut">A parameter (by index) whose gradient is removed before the given steps, as a forward pass that skips it would leave it.</param>
    private static float[] Train(Func<Module, (Action ZeroGrad, Action Step, IDisposable Owner)> build, (int Parameter, int[] Steps)? leftOut = null)
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        (Action zeroGrad, Action step, IDisposable owner) = build(model);
        using (owner)
        {
            for (int i = 0; i < Steps; i++)
            {
                zeroGrad();
                TinyMlp.Backward(model, x, y);
                if (leftOut is { } l && l.Steps.Contains(i)) model.parameters().ElementAt(l.Parameter).grad = null;
                step();
            }
        }
        return TinyMlp.Flatten(model.parameters());
    }

    private sealed class Both(IDisposable? first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            first?.Dispose();
            second.Dispose();
        }
    }
}
