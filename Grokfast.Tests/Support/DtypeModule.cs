using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Support;

/// <summary>A module that is only parameters, each of its own shape and dtype; the tests set their gradients directly.</summary>
internal sealed class DtypeModule : Module
{
    private readonly ParameterList parameterList = new();

    public DtypeModule(IReadOnlyList<long[]> shapes, IReadOnlyList<ScalarType> dtypes) : base(nameof(DtypeModule))
    {
        for (int i = 0; i < shapes.Count; i++) parameterList.Add(new Parameter(torch.zeros(shapes[i], dtypes[i])));
        RegisterComponents();
    }

    /// <summary>The parameters of the list, in order (a parameter registered on the module later is not among them).</summary>
    public Parameter[] Parameters => [.. parameterList];

    /// <summary>Writes <paramref name="values"/> into parameter <paramref name="index"/>'s gradient, in place where it has one (so views stay views).</summary>
    public void SetGradient(int index, Tensor values)
    {
        Parameter p = Parameters[index];
        using Tensor? grad = p.grad;
        if (grad is null) p.grad = values.to(p.device).clone();
        else
        {
            using (torch.no_grad()) grad.copy_(values);
        }
    }

    /// <summary>Writes <paramref name="values"/> into parameter <paramref name="index"/>, in place.</summary>
    public void SetValues(int index, Tensor values)
    {
        using (torch.no_grad()) Parameters[index].copy_(values);
    }

    /// <summary>The bytes of parameter <paramref name="index"/>'s values.</summary>
    public byte[] ValueBytes(int index)
    {
        using Tensor host = Parameters[index].detach().cpu().contiguous();
        return host.bytes.ToArray();
    }

    /// <summary>The bytes of parameter <paramref name="index"/>'s gradient.</summary>
    public byte[] GradientBytes(int index)
    {
        using Tensor grad = Parameters[index].grad!;
        using Tensor host = grad.cpu().contiguous();
        return host.bytes.ToArray();
    }
}
