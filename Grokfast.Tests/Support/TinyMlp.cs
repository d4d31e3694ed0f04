using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Support;

/// <summary>A small fixed-seed MLP and data for training-loop tests.</summary>
internal static class TinyMlp
{
    public static Module<Tensor, Tensor> Create(long seed = 0)
    {
        torch.manual_seed(seed);
        return Sequential(Linear(7, 31), ReLU(), Linear(31, 13), ReLU(), Linear(13, 3));
    }

    /// <summary>
    /// Two linear layers and no activation: a model whose training is not chaotic, so two trajectories that round
    /// differently drift apart only by their rounding, where a ReLU network amplifies an ulp into a flipped unit.
    /// </summary>
    public static Module<Tensor, Tensor> CreateLinear(long seed = 0)
    {
        torch.manual_seed(seed);
        return Sequential(Linear(7, 31), Linear(31, 3));
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

    public static float[] Flatten(IEnumerable<Tensor> tensors)
    {
        using var scope = torch.NewDisposeScope();
        return torch.cat(tensors.Select(t => t.detach().flatten()).ToArray()).data<float>().ToArray();
    }
}
