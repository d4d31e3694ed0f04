using System.Runtime.InteropServices;
using Grokfast.Bridge;
using Grokfast.Checkpoints;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Float64;
using Grokfast.Kernels.Kalman;
using Grokfast.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Filters;

/// <summary>
/// The elementwise Kalman filter proposed in the Grokfast repository's pull request #8: per element an
/// estimate x (from 0) tracks the gradient with gain K, and <c>g += lamb*x</c>. With scalar noises Q and R
/// every element's covariance P starts at R and gets the same update, so P and K are one scalar per
/// parameter, computed on the host, and the kernel moves only g and x.
/// </summary>
public sealed class KalmanFilter : GradientFilter
{
    private readonly Tensor estimates;
    private readonly nint estimatesAddress;
    private readonly float[] covariances;
    private readonly Tensor? estimates_float64;
    private readonly double[]? covariances_float64;
    private readonly GroupPasses<KalmanSettings, KalmanConstants>? passes;
    private readonly Float64Pass<KalmanFloat64Constants>? float64Pass;

    /// <summary>Builds the filter for the trainable parameters of <paramref name="module"/>.</summary>
    /// <param name="module">The model whose gradients are filtered.</param>
    /// <param name="process_noise">Q, finite and ≥ 0; the pull request's default is 1e-4.</param>
    /// <param name="measurement_noise">R, finite and &gt; 0; the pull request's default is 1e-2. P starts at R.</param>
    /// <param name="lamb">Amplification of the estimate, any finite value; the default is 2.</param>
    /// <param name="backend">Where the fused pass runs; <see cref="KernelBackend.Auto"/> follows the parameters' device.</param>
    /// <param name="skip_non_finite">Skip a step whose gradients hold a NaN or ±Inf, leaving state and gradients untouched (see <see cref="GradientFilter.SkipNonFinite"/>).</param>
    public KalmanFilter(Module module, double process_noise = DefaultProcessNoise, double measurement_noise = DefaultMeasurementNoise, double lamb = DefaultLamb,
        KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true)
        : this(FilterTarget.Of(module), process_noise, measurement_noise, lamb, backend, skip_non_finite)
    {
    }

    /// <summary>Builds the filter for <paramref name="parameters"/> (those that require grad; see <see cref="GradientFilter"/>).</summary>
    /// <param name="parameters">The parameters whose gradients are filtered, each named in messages and checkpoints by its <c>name</c>, or else <c>params[i]</c>.</param>
    /// <param name="process_noise">Q, finite and ≥ 0; the pull request's default is 1e-4.</param>
    /// <param name="measurement_noise">R, finite and &gt; 0; the pull request's default is 1e-2. P starts at R.</param>
    /// <param name="lamb">Amplification of the estimate, any finite value; the default is 2.</param>
    /// <param name="backend">Where the fused pass runs; <see cref="KernelBackend.Auto"/> follows the parameters' device.</param>
    /// <param name="skip_non_finite">Skip a step whose gradients hold a NaN or ±Inf, leaving state and gradients untouched (see <see cref="GradientFilter.SkipNonFinite"/>).</param>
    public KalmanFilter(IEnumerable<Parameter> parameters, double process_noise = DefaultProcessNoise, double measurement_noise = DefaultMeasurementNoise, double lamb = DefaultLamb,
        KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true)
        : this(FilterTarget.Of(parameters), process_noise, measurement_noise, lamb, backend, skip_non_finite)
    {
    }

    /// <summary>Builds the filter for <paramref name="target"/>'s parameters.</summary>
    internal KalmanFilter(FilterTarget target, double process_noise, double measurement_noise, double lamb,
        KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true)
        : base(target, backend, skip_non_finite, () => Validate(process_noise, measurement_noise, lamb))
    {
        this.process_noise = process_noise;
        this.measurement_noise = measurement_noise;
        this.lamb = lamb;
        covariances = Enumerable.Repeat((float)measurement_noise, ParameterCount).ToArray();
        try
        {
            estimates = torch.zeros(Float32StateLength, ScalarType.Float32, StateDevice);
            estimatesAddress = Float32StateLength > 0 ? TensorAddress.OfFloat32(estimates) : 0;
            // On CUDA the covariances live on the device, where the prepare kernel advances them.
            DeviceSteps?.WriteCovariances(covariances);
            passes = new GroupPasses<KalmanSettings, KalmanConstants>(Groups, Accelerator, CudaContext, DeviceSteps,
                (group, g) => PassBuffers.Filter(group.Address, StateOf(estimatesAddress, g), 0, group.Length, 1));
            if (Float64Group is { } float64)
            {
                // float64 gradients keep float64 estimates and covariances (only the CPU twin takes them).
                estimates_float64 = torch.zeros(Float64StateLength, ScalarType.Float64, StateDevice);
                covariances_float64 = Enumerable.Repeat(measurement_noise, ParameterCount).ToArray();
                float64Pass = new Float64Pass<KalmanFloat64Constants>(float64.Address, TensorAddress.OfFloat64(estimates_float64), 0, float64.Length, 1);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The pull request's default process noise Q.</summary>
    public const double DefaultProcessNoise = 1e-4;

    /// <summary>The pull request's default measurement noise R.</summary>
    public const double DefaultMeasurementNoise = 1e-2;

    /// <summary>The pull request's default amplification.</summary>
    public const double DefaultLamb = 2.0;

    /// <summary>Q, the process noise.</summary>
    public double process_noise { get; }

    /// <summary>R, the measurement noise.</summary>
    public double measurement_noise { get; }

    /// <summary>Amplification of the estimate.</summary>
    public double lamb { get; }

    private protected override double OwnLamb => lamb;

    private KalmanSettings SettingsWith(double lamb) => KalmanSettings.From(process_noise, measurement_noise, lamb);

    internal override void FilterRun(ParameterRun run, double lamb)
    {
        if (Groups[run.Group].Format.HasFloat64State())
        {
            (KalmanFloat64Constants constants, double next) = KalmanFloat64Constants.Next(covariances_float64![run.First], process_noise, measurement_noise, lamb);
            float64Pass!.Run(run.Offset, run.Length, constants);
            Array.Fill(covariances_float64, next, run.First, run.End - run.First);
            return;
        }
        // Every parameter of a run has been filtered equally often, so they share one covariance.
        KalmanStep step = SettingsWith(lamb).Next(covariances[run.First]);
        passes!.Run(run, step.Constants, FusedAdam);
        Array.Fill(covariances, step.NextCovariance, run.First, run.End - run.First);
    }

    internal override void FilterRunOnDevice(DeviceRun run, int group, double lamb) => passes!.Run(run, group, SettingsWith(lamb), FusedAdam);

    private protected override void Fused(FusedAdamPass adam) => passes!.Fuse(adam);

    internal override string Kind => "kalman";

    private protected override int BytesPerElementOf(GradientFormat format, PassUpdate update) => format == GradientFormat.Float64
        ? Float64Pass<KalmanFloat64Constants>.BytesPerElement
        : Passes.BytesPerElement<KalmanConstants>(format, update);

    private protected override IReadOnlyDictionary<string, double> Hyperparameters => new Dictionary<string, double>
    {
        [nameof(process_noise)] = process_noise,
        [nameof(measurement_noise)] = measurement_noise,
        [nameof(lamb)] = lamb,
    };

    private protected override IReadOnlyDictionary<string, Tensor> StateTensors => estimates_float64 is null
        ? new Dictionary<string, Tensor> { [nameof(estimates)] = estimates }
        : new Dictionary<string, Tensor> { [nameof(estimates)] = estimates, [nameof(estimates_float64)] = estimates_float64 };

    // The per-parameter covariances live on the host; checkpoints carry them beside the estimates.
    internal override IReadOnlyList<StateBuffer> StateBuffers
    {
        get
        {
            var buffers = new List<StateBuffer>(base.StateBuffers) { new HostStateBuffer<float>(nameof(covariances), covariances) };
            if (covariances_float64 is not null) buffers.Add(new HostStateBuffer<double>(nameof(covariances_float64), covariances_float64));
            return buffers;
        }
    }

    internal override float[] Covariances => covariances;

    internal override void BeforeStateSaved() => DeviceSteps?.ReadCovariances(covariances);

    internal override void AfterStateLoaded() => DeviceSteps?.WriteCovariances(covariances);

    private protected override void DisposeState()
    {
        passes?.Dispose();
        estimates_float64?.Dispose();
        estimates?.Dispose();
    }

    internal static void Validate(double process_noise, double measurement_noise, double lamb)
    {
        if (!(process_noise >= 0 && double.IsFinite(process_noise)))
            throw new ArgumentOutOfRangeException(nameof(process_noise), process_noise, $"Invalid process_noise: {process_noise}; it must be finite and >= 0.");
        if (!(measurement_noise > 0 && double.IsFinite(measurement_noise)))
            throw new ArgumentOutOfRangeException(nameof(measurement_noise), measurement_noise, $"Invalid measurement_noise: {measurement_noise}; it must be finite and > 0.");
        if (!double.IsFinite(lamb))
            throw new ArgumentOutOfRangeException(nameof(lamb), lamb, $"Invalid lamb: {lamb}; lamb must be finite.");
    }
}
