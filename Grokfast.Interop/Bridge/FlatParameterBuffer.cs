using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>
/// One contiguous float32 tensor holding every trainable parameter's values, laid out as the flat gradient buffer: each
/// parameter's data is made a view of its slice (<c>set_</c>), so the model reads and <c>backward()</c> differentiates
/// the same memory a fused optimizer updates in one pass, with no copies per step.
/// </summary>
/// <remarks>
/// In-place changes keep the views (<c>copy_</c>, <c>Module.load_state_dict</c>, the optimizer's own step). A parameter
/// whose data was replaced (<c>p.set_(other)</c>) stops being its view; <see cref="Refresh"/> finds that before every
/// step, copies the new values into the slice and makes the slice the parameter's data again.
/// </remarks>
internal sealed class FlatParameterBuffer : IDisposable
{
    private readonly IReadOnlyList<TrainableParameter> parameters;
    private readonly nint[] viewAddresses;

    /// <summary>Copies the values of <paramref name="parameters"/> into one buffer of <paramref name="length"/> elements and makes each a view of its slice.</summary>
    public FlatParameterBuffer(IReadOnlyList<TrainableParameter> parameters, long length, Device device)
    {
        this.parameters = parameters;
        Tensor = torch.empty(length, ScalarType.Float32, device);
        Address = TensorAddress.OfFloat32(Tensor);
        viewAddresses = parameters.Select(p => Address + (nint)(p.Offset * sizeof(float))).ToArray();
        foreach (TrainableParameter p in parameters) Adopt(p);
        Rebinds = 0;
    }

    /// <summary>The flat tensor every parameter is a view of.</summary>
    public Tensor Tensor { get; }

    /// <summary>Address of its first element.</summary>
    public nint Address { get; }

    /// <summary>Parameters made views again because their data had been replaced; stays put in a normal loop.</summary>
    public long Rebinds { get; private set; }

    /// <summary>Makes every parameter a view of its slice again where its data has been replaced, keeping its values.</summary>
    public void Refresh()
    {
        for (int i = 0; i < parameters.Count; i++)
        {
            TrainableParameter p = parameters[i];
            if (!NativeGradient.DataIsAt(p.Parameter, viewAddresses[i], p.Length)) Adopt(p);
        }
    }

    private void Adopt(TrainableParameter p)
    {
        if (!p.Parameter.shape.SequenceEqual(p.Shape))
            throw new InvalidOperationException($"Parameter '{p.Name}' has shape [{string.Join(", ", p.Parameter.shape)}], expected [{string.Join(", ", p.Shape)}]: " +
                "its data was replaced by a tensor of another shape. Build a new optimizer for the changed model.");
        using Tensor view = Tensor.narrow(0, p.Offset, p.Length).view(p.Shape);
        using (torch.no_grad())
        {
            view.copy_(p.Parameter);
            p.Parameter.set_(view);
        }
        Rebinds++;
    }

    /// <inheritdoc />
    public void Dispose() => Tensor.Dispose();
}
