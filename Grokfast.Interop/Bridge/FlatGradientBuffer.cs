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
/// The parameters are laid out parameter group by parameter group, and within one by format (formats in the order they
/// first appear, parameters in the given order within each): each (parameter group, format) pair is one
/// <see cref="GradientGroup"/>, one tensor. Element offsets run on across them, so the filters' float32 state and an
/// optimizer's moments are each one buffer in the same order. A model of one format in one parameter group has one:
/// the layout of a float32-only module is unchanged.
/// A gradient can stop being its view: <c>Module.zero_grad()</c> sets it to null, after which
/// <c>backward()</c> creates a fresh tensor; a user can assign another tensor. <see cref="Refresh"/>
/// finds these before every step, copies a foreign gradient into its slice and makes the view the
/// parameter's gradient again, so the filter never works on a stale buffer.
/// </remarks>
internal sealed class FlatGradientBuffer : IDisposable
{
    // The module the parameters came from, when they did: what the layout check walks. Null for parameters given as lists.
    private readonly Module? module;
    private readonly TrainableParameter[] parameters;
    // The same parameters in the order they were given (for a module, named_parameters()), which the layout reorders by
    // format within each parameter group: what the walk compares.
    private readonly TrainableParameter[] givenOrder;
    private readonly GradientGroup[] groups;
    private readonly nint[] viewAddresses;
    private ModuleRegistrations? registrations;

    /// <summary>Lays out the trainable parameters of <paramref name="module"/>, one parameter group, and binds their gradients.</summary>
    public FlatGradientBuffer(Module module)
        : this([module.named_parameters().Where(p => p.parameter.requires_grad).ToList()], module)
    {
    }

    /// <summary>
    /// Lays out <paramref name="parameterGroups"/> (each parameter with the name messages and checkpoints give it) and binds
    /// their gradients. Parameters that do not require grad are left out: they never have a gradient.
    /// </summary>
    public FlatGradientBuffer(IReadOnlyList<IReadOnlyList<(string Name, Parameter Parameter)>> parameterGroups, Module? module = null)
    {
        this.module = module;
        // Per parameter group, its formats in the order they first appear, each with its parameters in the given order.
        var segments = new List<(int ParamGroup, GradientFormat Format, ScalarType Dtype, List<(string Name, Parameter Parameter, int Given)> Members)>();
        var seen = new Dictionary<nint, string>();
        int given = 0;
        for (int pg = 0; pg < parameterGroups.Count; pg++)
        {
            foreach ((string name, Parameter parameter) in parameterGroups[pg])
            {
                ArgumentNullException.ThrowIfNull(parameter, name);
                if (!parameter.requires_grad) continue;
                if (!seen.TryAdd(parameter.Handle, name))
                    throw new ArgumentException($"Parameter '{name}' is '{seen[parameter.Handle]}' again: a parameter may appear once, in one parameter group.", nameof(parameterGroups));
                GradientFormat format = FormatOf(name, parameter.dtype);
                int index = segments.FindIndex(s => s.ParamGroup == pg && s.Format == format);
                if (index < 0)
                {
                    segments.Add((pg, format, parameter.dtype, []));
                    index = segments.Count - 1;
                }
                segments[index].Members.Add((name, parameter, given++));
            }
        }
        if (segments.Count == 0)
            throw new ArgumentException("No parameter requires grad, so there is nothing to filter.", module is null ? nameof(parameterGroups) : nameof(module));

        (string firstName, Parameter firstParameter, _) = segments[0].Members[0];
        Device = firstParameter.device;
        var layout = new List<TrainableParameter>();
        givenOrder = new TrainableParameter[given];
        long offset = 0;
        for (int g = 0; g < segments.Count; g++)
        {
            foreach ((string name, Parameter parameter, int givenIndex) in segments[g].Members)
            {
                if (!IsOnDevice(parameter))
                    throw new NotSupportedException($"Parameter '{name}' is on {parameter.device} but '{firstName}' is on {Device}; all parameters must share one device.");
                var trainable = new TrainableParameter(name, parameter, offset, parameter.shape) { Group = g };
                layout.Add(trainable);
                givenOrder[givenIndex] = trainable;
                offset += trainable.Length;
            }
        }
        parameters = layout.ToArray();
        Length = offset;
        groups = new GradientGroup[segments.Count];
        try
        {
            for (int g = 0; g < groups.Length; g++)
            {
                TrainableParameter[] members = parameters.Where(p => p.Group == g).ToArray();
                long groupBase = members[0].Offset;
                long groupLength = members[^1].Offset + members[^1].Length - groupBase;
                GradientFormat format = segments[g].Format;
                Tensor tensor = torch.zeros(groupLength, segments[g].Dtype, Device);
                groups[g] = new GradientGroup(format, tensor, TensorAddress.OfAny(tensor), groupBase, groupLength,
                    Array.IndexOf(parameters, members[0]), Array.IndexOf(parameters, members[^1]) + 1)
                {
                    ParamGroup = segments[g].ParamGroup,
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
    /// <remarks>
    /// Parameters given as lists, without their module, are checked only for disposal: what replaced them is not known.
    /// </remarks>
    private void ThrowIfParametersReplaced()
    {
        if (module is null)
        {
            foreach (TrainableParameter p in parameters)
            {
                if (p.Parameter.IsInvalid) throw ParametersChanged(p.Name);
            }
            return;
        }
        if (registrations?.Unchanged() == true) return;
        ThrowIfLayoutChanged(module);
        registrations = CaptureRegistrations();
    }

    private ModuleRegistrations? CaptureRegistrations() =>
        module is null ? null : ModuleRegistrations.TryCapture(module, parameters.Select(p => p.Parameter));

    private void ThrowIfLayoutChanged(Module module)
    {
        int index = 0;
        foreach ((string name, Parameter parameter) in module.named_parameters())
        {
            if (!parameter.requires_grad) continue;
            if (index >= givenOrder.Length || !ReferenceEquals(parameter, givenOrder[index].Parameter))
                throw ParametersChanged(name);
            index++;
        }
        if (index != givenOrder.Length) throw ParametersChanged(givenOrder[index].Name);
    }

    private static InvalidOperationException ParametersChanged(string name) => new(
        $"The trainable parameters changed at '{name}' since the filter was built (a parameter was replaced, disposed, " +
        "moved to another device or dtype, or its requires_grad switched). Build a new filter for the changed parameters.");

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
