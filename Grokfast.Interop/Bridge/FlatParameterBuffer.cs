using Grokfast.Kernels.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>
/// One contiguous tensor holding the values of one gradient group's parameters (same dtype), laid out as the group's
/// gradient buffer: each parameter's data is made a view of its slice (<c>set_</c>), so the model reads and
/// <c>backward()</c> differentiates the same memory a fused optimizer updates in one pass, with no copies per step.
/// </summary>
/// <remarks>
/// In-place changes keep the views (<c>copy_</c>, <c>Module.load_state_dict</c>, the optimizer's own step). A parameter
/// whose data was replaced (<c>p.set_(other)</c>) stops being its view; <see cref="Refresh"/> finds that before every
/// step, copies the new values into the slice and makes the slice the parameter's data again — and into the group's
/// float32 master weights, when it has them, so the next step starts from the new values.
/// </remarks>
internal sealed class FlatParameterBuffer : IDisposable
{
    private readonly TrainableParameter[] parameters;
    private readonly GradientGroup group;
    private readonly Tensor? master;
    private readonly long masterStart;
    private readonly nint[] viewAddresses;

    /// <summary>
    /// Copies the values of the parameters of <paramref name="group"/> into one buffer of the group's dtype and makes each a
    /// view of its slice; <paramref name="master"/> (float32), if given, gets a widened copy of the group's elements from
    /// <paramref name="masterStart"/> on (all of them, or a ZeRO-1 rank's block). The buffer owns the
    /// <paramref name="master"/> handle (a view of the optimizer's master weights) and disposes it.
    /// </summary>
    public FlatParameterBuffer(IReadOnlyList<TrainableParameter> parameters, GradientGroup group, Device device, Tensor? master = null, long masterStart = 0)
    {
        this.parameters = parameters.Skip(group.First).Take(group.End - group.First).ToArray();
        this.group = group;
        this.master = master;
        this.masterStart = masterStart;
        Tensor = torch.empty(group.Length, group.Tensor.dtype, device);
        Address = TensorAddress.OfAny(Tensor);
        int size = group.Format.ElementSize();
        viewAddresses = this.parameters.Select(p => Address + (nint)((p.Offset - group.Base) * size)).ToArray();
        foreach (TrainableParameter p in this.parameters) Adopt(p);
        Rebinds = 0;
    }

    /// <summary>The flat tensor every parameter of the group is a view of.</summary>
    public Tensor Tensor { get; }

    /// <summary>Address of its first element.</summary>
    public nint Address { get; }

    /// <summary>Parameters made views again because their data had been replaced; stays put in a normal loop.</summary>
    public long Rebinds { get; private set; }

    /// <summary>Makes every parameter a view of its slice again where its data has been replaced, keeping its values.</summary>
    public void Refresh()
    {
        for (int i = 0; i < parameters.Length; i++)
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
        if (p.Parameter.dtype != Tensor.dtype)
            throw new InvalidOperationException($"Parameter '{p.Name}' is {p.Parameter.dtype}, expected {Tensor.dtype}: " +
                "its data was replaced by a tensor of another dtype. Build a new optimizer for the changed model.");
        long offset = p.Offset - group.Base;
        using Tensor view = Tensor.narrow(0, offset, p.Length).view(p.Shape);
        using (torch.no_grad())
        {
            view.copy_(p.Parameter);
            p.Parameter.set_(view);
            // The part of the parameter the master covers.
            long from = Math.Max(offset, masterStart), to = Math.Min(offset + p.Length, masterStart + (master?.numel() ?? 0));
            if (master is not null && from < to)
            {
                using Tensor slice = master.narrow(0, from - masterStart, to - from);
                using Tensor values = Tensor.narrow(0, from, to - from);
                slice.copy_(values);
            }
        }
        Rebinds++;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Tensor.Dispose();
        master?.Dispose();
    }
}
