using Grokfast.Bridge;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Float64;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Filters;

/// <summary>
/// Grokfast-MA (the reference <c>gradfilter_ma</c>): adds <c>lamb</c> times the mean (or sum) of the last
/// <c>window_size</c> raw gradients to each gradient, in O(1) per element per step — a ring of the last
/// gradients and a float64 running sum replace the reference's re-summing of the whole window.
/// </summary>
/// <example>
/// <code>
/// using var grokfast = new WindowedMeanFilter(model, window_size: 100, lamb: 5.0);
/// loss.backward(); grokfast.step(); optimizer.step(); optimizer.zero_grad();
/// </code>
/// </example>
public sealed class WindowedMeanFilter : GradientFilter
{
    private readonly Tensor ring;
    private readonly Tensor sums;
    private readonly nint ringAddress;
    private readonly nint sumsAddress;
    private readonly Tensor? ring_float64;
    private readonly GroupPasses<WindowedMeanSettings, WindowedMeanConstants>? passes;
    private readonly Float64Pass<WindowedMeanFloat64Constants>? float64Pass;

    /// <summary>Builds the filter for the trainable parameters of <paramref name="module"/>.</summary>
    /// <param name="module">The model whose gradients are filtered.</param>
    /// <param name="window_size">Gradients in the window, at least 1; the reference's default is 128. The ring takes window_size × parameters × 4 bytes.</param>
    /// <param name="lamb">Amplification, any finite value; the reference's default is 5.</param>
    /// <param name="filter_type">Mean or sum of the window.</param>
    /// <param name="warmup">When true (the default), nothing is added until the window is full.</param>
    /// <param name="trigger">Ablation switch of the reference: when true (and warmup is on), nothing is ever added.</param>
    /// <param name="backend">Where the fused pass runs; <see cref="KernelBackend.Auto"/> follows the parameters' device.</param>
    /// <param name="skip_non_finite">Skip a step whose gradients hold a NaN or ±Inf, leaving state and gradients untouched (see <see cref="GradientFilter.SkipNonFinite"/>).</param>
    public WindowedMeanFilter(Module module, int window_size = DefaultWindowSize, double lamb = DefaultLamb, WindowAggregation filter_type = WindowAggregation.Mean,
        bool warmup = true, bool trigger = false, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true)
        : this(FilterTarget.Of(module), window_size, lamb, filter_type, warmup, trigger, backend, skip_non_finite)
    {
    }

    /// <summary>Builds the filter for <paramref name="parameters"/> (those that require grad; see <see cref="GradientFilter"/>).</summary>
    /// <param name="parameters">The parameters whose gradients are filtered, each named in messages and checkpoints by its <c>name</c>, or else <c>params[i]</c>.</param>
    /// <param name="window_size">Gradients in the window, at least 1; the reference's default is 128. The ring takes window_size × parameters × 4 bytes.</param>
    /// <param name="lamb">Amplification, any finite value; the reference's default is 5.</param>
    /// <param name="filter_type">Mean or sum of the window.</param>
    /// <param name="warmup">When true (the default), nothing is added until the window is full.</param>
    /// <param name="trigger">Ablation switch of the reference: when true (and warmup is on), nothing is ever added.</param>
    /// <param name="backend">Where the fused pass runs; <see cref="KernelBackend.Auto"/> follows the parameters' device.</param>
    /// <param name="skip_non_finite">Skip a step whose gradients hold a NaN or ±Inf, leaving state and gradients untouched (see <see cref="GradientFilter.SkipNonFinite"/>).</param>
    public WindowedMeanFilter(IEnumerable<Parameter> parameters, int window_size = DefaultWindowSize, double lamb = DefaultLamb, WindowAggregation filter_type = WindowAggregation.Mean,
        bool warmup = true, bool trigger = false, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true)
        : this(FilterTarget.Of(parameters), window_size, lamb, filter_type, warmup, trigger, backend, skip_non_finite)
    {
    }

    /// <summary>Builds the filter for <paramref name="target"/>'s parameters.</summary>
    internal WindowedMeanFilter(FilterTarget target, int window_size, double lamb, WindowAggregation filter_type,
        bool warmup = true, bool trigger = false, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true)
        : base(target, backend, skip_non_finite, () => Validate(window_size, lamb, filter_type))
    {
        this.window_size = window_size;
        this.lamb = lamb;
        this.filter_type = filter_type;
        this.warmup = warmup;
        this.trigger = trigger;
        try
        {
            // Zeroed, so a slot not yet written subtracts nothing while the window fills.
            // Each gradient group has its own ring of window_size slots, the groups' rings one after another (float64
            // gradients' in a float64 ring of their own); the float64 sums are one buffer in layout order.
            ring = torch.zeros(window_size * Float32StateLength, ScalarType.Float32, StateDevice);
            sums = torch.zeros(ElementCount, ScalarType.Float64, StateDevice);
            ringAddress = Float32StateLength > 0 ? TensorAddress.OfFloat32(ring) : 0;
            sumsAddress = TensorAddress.OfFloat64(sums);
            passes = new GroupPasses<WindowedMeanSettings, WindowedMeanConstants>(Groups, Accelerator, CudaContext, DeviceSteps,
                (group, _) => PassBuffers.Filter(group.Address, RingOf(group), SumsOf(group), group.Length, window_size));
            if (Float64Group is { } float64)
            {
                // float64 gradients keep a float64 ring of their own (only the CPU twin takes them).
                ring_float64 = torch.zeros(window_size * Float64StateLength, ScalarType.Float64, StateDevice);
                float64Pass = new Float64Pass<WindowedMeanFloat64Constants>(float64.Address, TensorAddress.OfFloat64(ring_float64), SumsOf(float64), float64.Length, window_size);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The reference's default window (<c>gradfilter_ma</c>).</summary>
    public const int DefaultWindowSize = 128;

    /// <summary>The reference's default amplification.</summary>
    public const double DefaultLamb = 5.0;

    /// <summary>Gradients in the window.</summary>
    public int window_size { get; }

    /// <summary>Amplification of the window's mean or sum.</summary>
    public double lamb { get; }

    /// <summary>Mean or sum.</summary>
    public WindowAggregation filter_type { get; }

    /// <summary>Whether nothing is added until the window is full.</summary>
    public bool warmup { get; }

    /// <summary>The reference's ablation switch.</summary>
    public bool trigger { get; }

    private protected override double OwnLamb => lamb;

    private WindowedMeanSettings SettingsWith(double lamb) => WindowedMeanSettings.From(window_size, filter_type == WindowAggregation.Mean, lamb, warmup, trigger);

    internal override void FilterRun(ParameterRun run, double lamb)
    {
        WindowedMeanConstants constants = SettingsWith(lamb).At(run.StepsBefore);
        if (Groups[run.Group].Format.HasFloat64State()) float64Pass!.Run(run.Offset, run.Length, WindowedMeanFloat64Constants.From(constants, lamb));
        else passes!.Run(run, constants, FusedAdam);
    }

    internal override void FilterRunOnDevice(DeviceRun run, int group, double lamb) => passes!.Run(run, group, SettingsWith(lamb), FusedAdam);

    private protected override void Fused(FusedAdamPass adam) => passes!.Fuse(adam);

    /// <summary>The first of <paramref name="group"/>'s float64 sums: the sums are one buffer for every group, in layout order.</summary>
    private nint SumsOf(GradientGroup group) => sumsAddress + (nint)(group.Base * sizeof(double));

    // The parameter's element of every ring slot, slot by slot, then of the sums.
    internal override IReadOnlyList<(string Name, Tensor View)> ParameterViews(TrainableParameter p, IReadOnlyDictionary<string, Tensor> tensors,
        IReadOnlyList<GradientGroup> groups)
    {
        GradientGroup group = groups[p.Group];
        long first = window_size * group.StateBase + p.Offset - group.Base;
        var views = new List<(string, Tensor)>(window_size + 1);
        for (int slot = 0; slot < window_size; slot++) views.Add(($"{nameof(ring)}[{slot}]", Slice(tensors[nameof(ring)], first + slot * group.Length, p)));
        views.Add((nameof(sums), Slice(tensors[nameof(sums)], p.Offset, p)));
        return views;
    }

    /// <summary>The first slot of <paramref name="group"/>'s ring: the rings of the groups before it take window_size × their elements.</summary>
    private nint RingOf(GradientGroup group) => ringAddress + (nint)(window_size * group.StateBase * sizeof(float));

    internal override string Kind => "ma";

    private protected override int BytesPerElementOf(GradientFormat format, PassUpdate update) => format == GradientFormat.Float64
        ? Float64Pass<WindowedMeanFloat64Constants>.BytesPerElement
        : Passes.BytesPerElement<WindowedMeanConstants>(format, update);

    private protected override IReadOnlyDictionary<string, double> Hyperparameters => new Dictionary<string, double>
    {
        [nameof(window_size)] = window_size,
        [nameof(lamb)] = lamb,
        [nameof(filter_type)] = (int)filter_type,
        [nameof(warmup)] = warmup ? 1 : 0,
        [nameof(trigger)] = trigger ? 1 : 0,
    };

    private protected override IReadOnlyDictionary<string, Tensor> StateTensors => ring_float64 is null
        ? new Dictionary<string, Tensor> { [nameof(ring)] = ring, [nameof(sums)] = sums }
        : new Dictionary<string, Tensor> { [nameof(ring)] = ring, [nameof(sums)] = sums, [nameof(ring_float64)] = ring_float64 };

    private protected override void DisposeState()
    {
        passes?.Dispose();
        ring?.Dispose();
        ring_float64?.Dispose();
        sums?.Dispose();
    }

    internal static void Validate(int window_size, double lamb, WindowAggregation filter_type)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window_size, 1);
        if (!double.IsFinite(lamb))
            throw new ArgumentOutOfRangeException(nameof(lamb), lamb, $"Invalid lamb: {lamb}; lamb must be finite.");
        if (!Enum.IsDefined(filter_type))
            throw new ArgumentOutOfRangeException(nameof(filter_type), filter_type, "filter_type must be Mean or Sum.");
    }
}
