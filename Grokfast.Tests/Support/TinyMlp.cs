using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Support;

/// <summary>A small fixed-seed MLP and data for training-loop tests.</summary>
internal static class TinyMlp
{
    public static Module<Tensor, Tensor> Create(long seed = 0) =>
        Initialized(Sequential(Linear(7, 31), ReLU(), Linear(31, 13), ReLU(), Linear(13, 3)), seed);

    /// <summary>
    /// Two linear layers and no activation: a model whose training is not chaotic, so two trajectories that round
    /// differently drift apart only by their rounding, where a ReLU network amplifies an ulp into a flipped unit.
    /// </summary>
    public static Module<Tensor, Tensor> CreateLinear(long seed = 0) => Initialized(Sequential(Linear(7, 31), Linear(31, 3)), seed);

    /// <summary>
    /// Overwrites every parameter from a generator of its own, uniform in ±1/√fan_in as <c>Linear</c> initialises: the
    /// global generator is shared with the tests running in parallel, so <c>manual_seed</c> alone would not make two
    /// models of one seed equal.
    /// </summary>
    private static Module<Tensor, Tensor> Initialized(Module<Tensor, Tensor> model, long seed)
    {
        var generator = new torch.Generator((ulong)seed);
        double bound = 1;
        using (torch.no_grad())
        {
            foreach (TorchSharp.Modules.Parameter p in model.parameters())
            {
                // A weight sets the bound; the bias after it shares it.
                if (p.dim() == 2) bound = 1 / Math.Sqrt(p.shape[1]);
                using var scope = torch.NewDisposeScope();
                p.copy_(torch.rand(p.shape, generator: generator).mul_(2 * bound).sub_(bound));
            }
        }
        return model;
    }

    public static (Tensor Inputs, Tensor Targets) Data(long seed = 1)
    {
        var generator = new torch.Generator((ulong)seed);
        return (torch.randn(64, 7, generator: generator), torch.randn(64, 3, generator: generator));
    }

    /// <summary>Forward and backward once; the gradients land in each parameter's <c>grad</c>.</summary>
    public static void Backward(Module<Tensor, Tensor> model, Tensor inputs, Tensor targets)
    {
        using var scope = torch.NewDisposeScope();
        functional.mse_loss(model.forward(inputs), targets).backward();
    }

    /// <summary>One training step: the optimizer zeroes the gradients, forward and backward, the optimizer steps.</summary>
    public static void Step(Module<Tensor, Tensor> model, torch.optim.Optimizer optimizer, Tensor inputs, Tensor targets)
    {
        optimizer.zero_grad();
        Backward(model, inputs, targets);
        optimizer.step();
    }

    /// <summary>Copies <paramref name="values"/>, flat in order (as <see cref="Flatten"/> gives them), into <paramref name="parameters"/>.</summary>
    public static void Load(IEnumerable<TorchSharp.Modules.Parameter> parameters, float[] values)
    {
        int at = 0;
        using (torch.no_grad())
        {
            foreach (TorchSharp.Modules.Parameter p in parameters)
            {
                int n = (int)p.numel();
                using Tensor source = torch.tensor(values.AsSpan(at, n).ToArray()).view(p.shape);
                p.copy_(source);
                at += n;
            }
        }
    }

    public static float[] Flatten(IEnumerable<Tensor> tensors)
    {
        using var scope = torch.NewDisposeScope();
        return torch.cat(tensors.Select(t => t.detach().flatten().to(ScalarType.Float32)).ToArray()).data<float>().ToArray();
    }
}
