using Grokfast.Bridge;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Float64;
using Grokfast.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Filters;

/// <summary>
/// Grokfast's EMA filter (the reference <c>gradfilter_ema</c>): per element
/// <c>ema = alpha*ema + (1-alpha)*g; g += lamb*ema</c>, with the average starting at the first gradient.
/// </summary>
/// <example>
/// <code>
/// using var grokfast = new EmaFilter(model, alpha: 0.98, lamb: 2.0);
/// loss.backward(); grokfast.step(); optimizer.step(); optimizer.zero_grad();
/// </code>
/// </example>
public sealed class EmaFilter : GradientFilter
{
    private readonly Tensor average;
    private readonly nint averageAddress;
    private readonly Tensor? average_float64;
    private readonly GroupPasses<EmaSettings, EmaConstants>? passes;
    private readonly Float64Pass<EmaFloat64Constants>? float64Pass;

    /// <summary>Builds the filter for the trainable parameters of <paramref name="module"/>.</summary>
    /// <param name="module">The model whose gradients are filtered.</param>
    /// <param name="alpha">Momentum of the average, in [0, 1); the reference's default is 0.99.</param>
    /// <param name="lamb">Amplification of the slow component, any finite value; the reference's default is 5.</param>
    /// <param name="backend">Where the fused pass runs; <see cref="KernelBackend.Auto"/> follows the parameters' device.</param>
    /// <param name="skip_non_finite">Skip a step whose gradients hold a NaN or ±Inf, leaving state and gradients untouched (see <see cref="GradientFilter.SkipNonFinite"/>).</param>
    public EmaFilter(Module module, double alpha = DefaultAlpha, double lamb = DefaultLamb, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true)
        : this(FilterTarget.Of(module), alpha, lamb, backend, skip_non_finite)
    {
    }

    /// <summary>Builds the filter for <paramref name="parameters"/> (those that require grad; see <see cref="GradientFilter"/>).</summary>
    /// <param name="parameters">The parameters whose gradients are filtered, each named in messages and checkpoints by its <c>name</c>, or else <c>params[i]</c>.</param>
    /// <param name="alpha">Momentum of the average, in [0, 1); the reference's default is 0.99.</param>
    /// <param name="lamb">Amplification of the slow component, any finite value; the reference's default is 5.</param>
    /// <param name="backend">Where the fused pass runs; <see cref="KernelBackend.Auto"/> follows the parameters' device.</param>
    /// <param name="skip_non_finite">Skip a step whose gradients hold a NaN or ±Inf, leaving state and gradients untouched (see <see cref="GradientFilter.SkipNonFinite"/>).</param>
    public EmaFilter(IEnumerable<Parameter> parameters, double alpha = DefaultAlpha, double lamb = DefaultLamb, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true)
        : this(FilterTarget.Of(parameters), alpha, lamb, backend, skip_non_finite)
    {
    }

    /// <summary>Builds the filter for <paramref name="target"/>'s parameters.</summary>
    internal EmaFilter(FilterTarget target, double alpha, double lamb, KernelBackend backend, bool skip_non_finite)
        : base(target, backend, skip_non_finite, () => Validate(alpha, lamb))
    {
        this.alpha = alpha;
        this.lamb = lamb;
        try
        {
            average = torch.empty(Float32StateLength, ScalarType.Float32, StateDevice);
            averageAddress = Float32StateLength > 0 ? TensorAddress.OfFloat32(average) : 0;
            passes = new GroupPasses<EmaSettings, EmaConstants>(Groups, Accelerator, CudaContext, DeviceSteps,
                (group, g) => PassBuffers.Filter(group.Address, StateOf(averageAddress, g), 0, group.Length, 1));
            if (Float64Group is { } float64)
            {
                // float64 gradients keep a float64 average (only the CPU twin takes them).
                average_float64 = torch.empty(Float64StateLength, ScalarType.Float64, StateDevice);
                float64Pass = new Float64Pass<EmaFloat64Constants>(float64.Address, TensorAddress.OfFloat64(average_float64), 0, float64.Length, 1);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The reference's default momentum (<c>gradfilter_ema</c>).</summary>
    public const double DefaultAlpha = 0.99;

    /// <summary>The reference's default amplification.</summary>
    public const double DefaultLamb = 5.0;

    /// <summary>Momentum of the average.</summary>
    public double alpha { get; }

    /// <summary>Amplification of the slow component.</summary>
    public double lamb { get; }

    private protected override double OwnLamb => lamb;

    internal override void FilterRun(ParameterRun run, double lamb)
    {
        if (Groups[run.Group].Format.HasFloat64State()) float64Pass!.Run(run.Offset, run.Length, EmaFloat64Constants.At(alpha, lamb, run.StepsBefore));
        else passes!.Run(run, EmaSettings.From(alpha, lamb).At(run.StepsBefore), FusedAdam);
    }

    internal override void FilterRunOnDevice(DeviceRun run, int group, double lamb) => passes!.Run(run, group, EmaSettings.From(alpha, lamb), FusedAdam);

    private protected override void Fused(FusedAdamPass adam) => passes!.Fuse(adam);

    internal override string Kind => "ema";

    private protected override int BytesPerElementOf(GradientFormat format, PassUpdate update) => format == GradientFormat.Float64
        ? Float64Pass<EmaFloat64Constants>.BytesPerElement
        : Passes.BytesPerElement<EmaConstants>(format, update);

    private protected override IReadOnlyDictionary<string, double> Hyperparameters =>
        new Dictionary<string, double> { [nameof(alpha)] = alpha, [nameof(lamb)] = lamb };

    private protected override IReadOnlyDictionary<string, Tensor> StateTensors => average_float64 is null
        ? new Dictionary<string, Tensor> { [nameof(average)] = average }
        : new Dictionary<string, Tensor> { [nameof(average)] = average, [nameof(average_float64)] = average_float64 };

    private protected override void DisposeState()
    {
        passes?.Dispose();
        average_float64?.Dispose();
        average?.Dispose();
    }

    internal static void Validate(double alpha, double lamb)
    {
        if (!(alpha >= 0 && alpha < 1))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"Invalid alpha: {alpha}; alpha must be in [0, 1).");
        if (!double.IsFinite(lamb))
            throw new ArgumentOutOfRangeException(nameof(lamb), lamb, $"Invalid lamb: {lamb}; lamb must be finite.");
    }
}
