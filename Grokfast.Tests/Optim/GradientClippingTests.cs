using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using static TorchSharp.torch.optim;

namespace Grokfast.Tests.Optim;

/// <summary>
/// Fused clipping (<see cref="FusedAdamOptimizer.max_grad_norm"/>) against the separate path: <c>clip_grad_norm_</c>
/// over every parameter, a filter per group, then TorchSharp's AdamW with the same groups.
/// </summary>
public sealed class GradientClippingTests
{
    private const int Steps = 120;

    // The linear TinyMlp's parameters W1, b1, W2, b2: weights with decay, biases without.
    private static readonly int[][] Groups = [[0, 2], [1, 3]];
    private static readonly double[] Decays = [0.1, 0.0];

    /// <summary>A limit the gradients' norm crosses during the run, or one it never reaches.</summary>
    public static TheoryData<string, double, bool> Cases() => new()
    {
        { "none", 0.1, true },
        { "ema", 0.1, true },
        { "kalman", 0.1, true },
        { "ma", 0.1, true },
        { "ema", 100.0, false },
    };

    // Tolerance: clip_grad_norm_ sums the norm in float32 (per tensor, then over tensors), ours in double in a fixed
    // order, so the factors differ by a few float32 ulps (the norm is checked to 1e-5 relative, plus 1e-6 absolute for
    // the late steps' small norms, which the two trajectories' 1e-6-sized drift in the weights moves); through the
    // filter and Adam that stays below the 1e-5 the fused and separate Adam paths already differ by (FusedAdamTrainingTests).
    [Theory]
    [MemberData(nameof(Cases))]
    public void Clipping_Over120Steps_MatchesClipGradNormThenAFilterPerGroupThenAdamW(string filter, double maxNorm, bool crosses)
    {
        var fusedNorms = new List<double>();
        var separateNorms = new List<double>();

        float[] fused = Train((model, parameters) =>
        {
            var optimizer = new GrokfastAdamW(Groups.Select((m, g) => new FusedAdamOptimizer.ParamGroup(m.Select(i => parameters[i]), weight_decay: Decays[g])),
                lr: 1e-2, grokfast: FusedAdamTrainingTests.Choice(filter)) { max_grad_norm = maxNorm };
            return (() =>
            {
                optimizer.step();
                using Tensor norm = optimizer.grad_norm();
                fusedNorms.Add(norm.item<double>());
            }, optimizer);
        });
        float[] separate = Train((model, parameters) =>
        {
            GradientFilter?[] filters = Groups.Select(m => SeparatePath.Filter(filter, m.Select(i => parameters[i]))).ToArray();
            var adamw = AdamW(Groups.Select((m, g) => new AdamW.ParamGroup(m.Select(i => parameters[i]), 1e-2, weight_decay: Decays[g])));
            return (() =>
            {
                separateNorms.Add(torch.nn.utils.clip_grad_norm_(parameters, maxNorm));
                foreach (GradientFilter? f in filters) f?.step();
                adamw.step();
            }, new SeparatePath.Owners([.. filters, adamw]));
        });

        // At 0.1 the norm starts above the limit and falls below it as the loss falls: both sides in one run.
        Assert.Equal(crosses, separateNorms.Any(norm => norm > maxNorm));
        Assert.Contains(separateNorms, norm => norm < maxNorm);
        Assert.All(fusedNorms.Zip(separateNorms), pair => Assert.Equal(pair.Second, pair.First, 1e-6 + pair.Second * 1e-5));
        Assert.Equal(separate, fused, (a, b) => Math.Abs(a - b) <= 1e-5f);
    }

    [Fact]
    public void LimitAboveTheNorm_ChangesNothing_BitForBit()
    {
        float[] unclipped = Train((model, parameters) => Own(new GrokfastAdamW(model, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0))), steps: 20);
        float[] limited = Train((model, parameters) => Own(new GrokfastAdamW(model, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0)) { max_grad_norm = 1e3 }), steps: 20);

        Assert.Equal(unclipped, limited);
    }

    [Fact]
    public void CpuTwinAndIlgpu_WithGroupsAndClipping_AgreeBitForBit()
    {
        var norms = new Dictionary<KernelBackend, List<double>> { [KernelBackend.Cpu] = [], [KernelBackend.IlgpuCpu] = [] };
        float[] Run(KernelBackend backend) => Train((model, parameters) =>
        {
            var optimizer = new GrokfastAdamW([new FusedAdamOptimizer.ParamGroup([parameters[0]], weight_decay: 0.1, lamb: 2.0),
                new FusedAdamOptimizer.ParamGroup([parameters[1], parameters[3]], weight_decay: 0.0, grokfast: false),
                new FusedAdamOptimizer.ParamGroup([parameters[2]], lr: 2e-2, lamb: 1.0)], lr: 1e-2,
                grokfast: GrokfastFilter.Kalman(lamb: 2.0), backend: backend) { max_grad_norm = 0.1 };
            return (() =>
            {
                optimizer.step();
                using Tensor norm = optimizer.grad_norm();
                norms[backend].Add(norm.item<double>());
            }, optimizer);
        }, steps: 8);

        Assert.Equal(Run(KernelBackend.Cpu), Run(KernelBackend.IlgpuCpu));
        Assert.Equal(norms[KernelBackend.Cpu], norms[KernelBackend.IlgpuCpu]);
    }

    [Fact]
    public void Step_WithClipping_LeavesTheRawGradient_AndANonFiniteOneSkipsTheStep()
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var optimizer = new GrokfastAdamW(model, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0)) { max_grad_norm = 0.1 };
        TinyMlp.Backward(model, x, y);
        float[] raw = TinyMlp.Flatten(model.parameters().Select(p => p.grad!));

        optimizer.step();
        Assert.Equal(raw, TinyMlp.Flatten(model.parameters().Select(p => p.grad!)));
        float[] before = TinyMlp.Flatten(model.parameters());
        using (torch.no_grad()) model.parameters().First().grad![0, 0] = float.NaN;
        optimizer.step();

        Assert.True(optimizer.LastStepSkipped);
        Assert.Equal(before, TinyMlp.Flatten(model.parameters()));
        using Tensor norm = optimizer.grad_norm();
        Assert.True(double.IsNaN(norm.item<double>()));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void MaxGradNorm_OutOfRange_IsRefusedByName(double limit)
    {
        using var model = TinyMlp.CreateLinear();
        using var optimizer = new GrokfastAdamW(model);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.max_grad_norm = limit);
        Assert.Equal("max_grad_norm", error.ParamName);
        Assert.Null(optimizer.max_grad_norm);
    }

    private static (Action, IDisposable) Own(FusedAdamOptimizer optimizer) => (() => optimizer.step(), optimizer);

    /// <summary>Trains a fresh linear <see cref="TinyMlp"/> with the step <paramref name="build"/> gives; returns the weights.</summary>
    private static float[] Train(Func<Module<Tensor, Tensor>, Parameter[], (Action Step, IDisposable Owner)> build, int steps = Steps)
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        (Action step, IDisposable owner) = build(model, [.. model.parameters()]);
        using (owner)
        {
            for (int i = 0; i < steps; i++)
            {
                // Zeroed in place: the fused optimizer's gradients stay views of its flat buffer.
                foreach (Parameter p in model.parameters()) p.grad?.zero_();
                TinyMlp.Backward(model, x, y);
                step();
            }
        }
        return TinyMlp.Flatten(model.parameters());
    }
}
