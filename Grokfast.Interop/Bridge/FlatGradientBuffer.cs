using Grokfast.Kernels.Backends;
using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;
using static TorchSharp.torch.nn;

namespace Grokfast.Bridge;

/// <summary>
/// Every trainable parameter's gradient in contiguous tensors, one per gradient format (float32, bfloat16, float16): each
/// <c>p.grad</c> is a view of its slice, so <c>backward()</c> accumulates straight into it, an optimizer's in-place
/// <c>zero_grad()</c> zeroes it, and one kernel launch per format filters the whole model.
/// </summary>
/// <remarks>
/// The parameters are laid out group by group (formats in the order they first appear in the module, parameters in
/// module order within each), and element offsets run on across the groups, so the filters' float32 state is one
/// buffer in the same order. A model of one format has one group: the layout of a float32-only model is unchanged.
/// A gradient can stop being its view: <c>Module.zero_grad()</c> sets it to null, after which
/// <c>backward()</c> creates a fresh tensor; a user can assign another tensor. <see cref="Refresh"/>
/// finds these before every step, copies a foreign gradient into its slice and makes the view the
/// parameter's gradient again, so the filter never works on a stale buffer.
/// </remarks>
internal sealed class FlatGradientBuffer : IDisposable
{
    private readonly Module module;
    private readonly TrainableParameter[] parameters;
    // The same parameters in module order (named_parameters()), which the layout reorders by format: what the walk compares.
    private readonly TrainableParameter[] moduleOrder;
    private readonly GradientGroup[] groups;
    private readonly nint[] viewAddresses;
    private ModuleRegistrations? registrations;

    /// <summary>Lays out the trainable parameters of <paramref name="module"/> and binds their gradients.</summary>
    public FlatGradientBuffer(Module module)
    {
        this.module = module;
        var byFormat = new List<(GradientFormat Format, ScalarType Dtype, List<(string Name, Parameter Parameter, int ModuleIndex)> Members)>();
        int trainableCount = 0;
        foreach ((string name, Parameter parameter) in module.named_parameters())
        {
            if (!parameter.requires_grad) continue;
            GradientFormat format = FormatOf(name, parameter.dtype);
            int index = byFormat.FindIndex(g => g.Format == format);
            if (index < 0)
            {
                byFormat.Add((format, parameter.dtype, []));
                index = byFormat.Count - 1;
            }
            byFormat[index].Members.Add((name, parameter, trainableCount++));
        }
        if (byFormat.Count == 0)
            throw new ArgumentException("The module has no parameter that requires grad, so there is nothing to filter.", nameof(module));

        Device = byFormat[0].Members[0].Parameter.device;
        var layout = new List<TrainableParameter>();
        moduleOrder = new TrainableParameter[trainableCount];
        long offset = 0;
        for (int g = 0; g < byFormat.Count; g++)
        {
            foreach ((string name, Parameter parameter, int moduleIndex) in byFormat[g].Members)
            {
                if (!IsOnDevice(parameter))
                    throw new NotSupportedException($"Parameter '{name}' is on {parameter.device} but '{byFormat[0].Members[0].Name}' is on {Device}; all parameters must share one device.");
                var trainable = new TrainableParameter(name, parameter, offset, parameter.shape) { Group = g };
                layout.Add(trainable);
                moduleOrder[moduleIndex] = trainable;
                offset += trainable.Length;
            }
        }
        parameters = layout.ToArray();
        Length = offset;
        groups = new GradientGroup[byFormat.Count];
        try
        {
            for (int g = 0; g < groups.Length; g++)
            {
                TrainableParameter[] members = parameters.Where(p => p.Group == g).ToArray();
                long groupBase = members[0].Offset;
                long groupLength = members[^1].Offset + members[^1].Length - groupBase;
                GradientFormat format = byFormat[g].Format;
                Tensor tensor = torch.zeros(groupLength, byFormat[g].Dtype, Device);
                groups[g] = new GradientGroup(format, tensor, TensorAddress.OfAny(tensor), groupBase, groupLength,
                    Array.IndexOf(parameters, members[0]), Array.IndexOf(parameters, members[^1]) + 1)
                {
                    StateBase = format.HasFloat64State() ? Float64StateLength : Float32StateLength,
                };
                if (format.HasFloat64State()) Float64StateLength += groupLength;
                else Float32StateLength += groupLength;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        viewAddresses = parameters.Select(p => ViewAddress(p)).ToArray();
        registrations = CaptureRegistrations();
        foreach (TrainableParameter p in parameters)
        {
            using Tensor? grad = p.Parameter.grad;
            if (grad is not null) Adopt(p, grad);
        }
    }

    /// <summary>The trainable parameters, in the order of their slices.</summary>
    public IReadOnlyList<TrainableParameter> Parameters => parameters;

    /// <summary>The buffers, one per gradient format present, in layout order.</summary>
    public IReadOnlyList<GradientGroup> Groups => groups;

    /// <summary>Elements whose filter state is float32: those of the float32, bfloat16 and float16 groups.</summary>
    public long Float32StateLength { get; }

    /// <summary>Elements whose filter state is float64: those of the float64 group.</summary>
    public long Float64StateLength { get; }

    /// <summary>Elements in all the buffers together: the model's trainable parameter count.</summary>
    public long Length { get; }

    /// <summary>The device they live on, the parameters' device.</summary>
    public Device Device { get; }

    /// <summary>How many times a gradient that was not its view had to be copied in; 0 in a zero-copy loop.</summary>
    public long GradientCopies { get; private set; }

    /// <summary>Zeroes every gradient in the flat buffers, in place, one pass per group.</summary>
    public void Zero()
    {
        using (torch.no_grad())
        {
            foreach (GradientGroup group in Groups)
            {
                // zero_() hands back a second handle to the same tensor; disposing it frees the handle, not the buffer.
                using Tensor zeroed = group.Tensor.zero_();
            }
        }
    }

    /// <summary>
    /// Makes every parameter's gradient its view again where it has stopped being one, and reports which
    /// parameters have a gradient this step (<c>hasGradient[i]</c>).
    /// </summary>
    public void Refresh(Span<bool> hasGradient)
    {
        ThrowIfParametersReplaced();
        for (int i = 0; i < parameters.Length; i++)
        {
            TrainableParameter p = parameters[i];
            NativeGradient.State state = NativeGradient.Inspect(p.Parameter, viewAddresses[i], p.Length);
            hasGradient[i] = state != NativeGradient.State.Missing;
            if (state != NativeGradient.State.Other) continue;
            using Tensor grad = p.Parameter.grad!;
            Adopt(p, grad);
        }
    }

    /// <summary>
    /// Moving a TorchSharp module to another device or dtype, or assigning a parameter, replaces the
    /// Parameter objects; filtering the old ones' gradients would filter a buffer nobody reads.
    /// </summary>
    /// <remarks>
    /// The registration snapshot answers the usual "nothing changed" without allocating. Any change it sees
    /// (a frozen parameter replaced, say) gets the authoritative walk over <c>named_parameters()</c>, which
    /// either names the trainable parameter that changed or confirms the layout and takes a new snapshot.
    /// </remarks>
    private void ThrowIfParametersReplaced()
    {
        if (registrations?.Unchanged() == true) return;
        ThrowIfLayoutChanged();
        registrations = CaptureRegistrations();
    }

    private ModuleRegistrations? CaptureRegistrations() => ModuleRegistrations.TryCapture(module, parameters.Select(p => p.Parameter));

    private void ThrowIfLayoutChanged()
    {
        int index = 0;
        foreach ((string name, Parameter parameter) in module.named_parameters())
        {
            if (!parameter.requires_grad) continue;
            if (index >= moduleOrder.Length || !ReferenceEquals(parameter, moduleOrder[index].Parameter))
                throw ParametersChanged(name);
            index++;
        }
        if (index != moduleOrder.Length) throw ParametersChanged(moduleOrder[index].Name);
    }

    private static InvalidOperationException ParametersChanged(string name) => new(
        $"The module's trainable parameters changed at '{name}' since the filter was built (a parameter was replaced, " +
        "moved to another device or dtype, or its requires_grad switched). Build a new filter for the changed module.");

    private bool IsOnDevice(Tensor tensor) => tensor.device_type == Device.type && tensor.device_index == Device.index;

    /// <summary>Copies <paramref name="grad"/> into the parameter's slice and makes the slice its gradient.</summary>
    private void Adopt(TrainableParameter p, Tensor grad)
    {
        if (grad.is_sparse)
            throw new NotSupportedException($"The gradient of '{p.Name}' is sparse; Grokfast filters take dense gradients (e.g. Embedding(..., sparse: false)).");
        if (!IsOnDevice(grad))
            throw new NotSupportedException($"The gradient of '{p.Name}' is on {grad.device} but the filter was built for {Device}; moving a model after building its filter is not supported.");
        if (!grad.shape.SequenceEqual(p.Shape))
            throw new ArgumentException($"The gradient of '{p.Name}' has shape [{string.Join(", ", grad.shape)}], expected [{string.Join(", ", p.Shape)}].");
        GradientGroup group = groups[p.Group];
        using Tensor view = group.Tensor.narrow(0, p.Offset - group.Base, p.Length).view(p.Shape);
        using (torch.no_grad())
            view.copy_(grad);
        p.Parameter.grad = view;
        GradientCopies++;
    }

    private nint ViewAddress(TrainableParameter p)
    {
        GradientGroup group = groups[p.Group];
        return group.Address + (nint)((p.Offset - group.Base) * group.Format.ElementSize());
    }

    private static GradientFormat FormatOf(string name, ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => GradientFormat.Float32,
        ScalarType.BFloat16 => GradientFormat.BFloat16,
        ScalarType.Float16 => GradientFormat.Float16,
        ScalarType.Float64 => GradientFormat.Float64,
        _ => throw new NotSupportedException($"Parameter '{name}' is {dtype}; Grokfast filters support float32, bfloat16, float16 and float64 parameters."),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (GradientGroup? group in groups ?? []) group?.Tensor.Dispose();
    }
}
