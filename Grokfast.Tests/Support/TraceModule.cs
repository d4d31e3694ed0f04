using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Support;

/// <summary>A module that is only parameters of the golden traces' shapes; its gradients and values are set from the traces.</summary>
internal sealed class TraceModule : Module
{
    private readonly ParameterList parameterList = new();

    public TraceModule(long[][] shapes) : base(nameof(TraceModule))
    {
        foreach (long[] shape in shapes) parameterList.Add(new Parameter(torch.zeros(shape)));
        RegisterComponents();
    }

    /// <summary>Writes one row of the trace into the gradients (in place where they exist, so views stay views).</summary>
    public void SetGradients(ReadOnlySpan<float> row)
    {
        int offset = 0;
        foreach (Parameter p in parameters())
        {
            int size = (int)p.numel();
            using Tensor values = torch.tensor(row.Slice(offset, size).ToArray()).reshape(p.shape);
            using Tensor? grad = p.grad;
            if (grad is null) p.grad = values;
            else grad.copy_(values);
            offset += size;
        }
    }

    /// <summary>Writes <paramref name="values"/> into the parameters, in place.</summary>
    public void SetParameters(ReadOnlySpan<float> values)
    {
        int offset = 0;
        using var noGrad = torch.no_grad();
        foreach (Parameter p in parameters())
        {
            int size = (int)p.numel();
            using Tensor slice = torch.tensor(values.Slice(offset, size).ToArray()).reshape(p.shape);
            p.copy_(slice);
            offset += size;
        }
    }

    public float[] Gradients() => TinyMlp.Flatten(parameters().Select(p => p.grad!));

    public float[] Values() => TinyMlp.Flatten(parameters());
}
