using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Support;

/// <summary>A module that is only parameters of given sizes, with fixed-seed gradients, for timing filters.</summary>
internal sealed class SyntheticModel : Module
{
    private readonly ParameterList parameterList = new();

    /// <summary>Parameters of <paramref name="elements"/> in all, split evenly over <paramref name="tensors"/>, with fixed-seed normal gradients (or zeros).</summary>
    public SyntheticModel(long elements, int tensors, bool zeroGradients = false) : base(nameof(SyntheticModel))
    {
        var generator = new torch.Generator(0);
        long remaining = elements;
        for (int i = 0; i < tensors; i++)
        {
            long size = remaining / (tensors - i);
            remaining -= size;
            var parameter = new Parameter(torch.zeros(size));
            parameter.grad = zeroGradients ? torch.zeros(size) : torch.randn(size, generator: generator);
            parameterList.Add(parameter);
        }
        RegisterComponents();
    }

    /// <summary>Copies of the current gradients, to restore between timed steps.</summary>
    public Tensor[] SnapshotGradients() => parameters().Select(p => p.grad!.clone()).ToArray();

    /// <summary>Writes the snapshot back into the gradients in place (their storage stays where it is).</summary>
    public void RestoreGradients(Tensor[] snapshot)
    {
        using var noGrad = torch.no_grad();
        int i = 0;
        foreach (Parameter p in parameters())
        {
            using Tensor grad = p.grad!;
            grad.copy_(snapshot[i++]);
        }
    }
}
