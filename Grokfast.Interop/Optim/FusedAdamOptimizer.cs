using Grokfast.Bridge;
using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

/// <summary>
/// Adam or AdamW with an optional Grokfast filter, fused: one pass over every parameter per step reads the gradient, the
/// filter's state, the parameter and both moments once and writes all but the gradient once. Gradients and parameters
/// are views of two flat buffers laid out alike, so the pass is one elementwise sweep of the whole model.
/// </summary>
/// <remarks>
/// <para>A TorchSharp optimizer: <see cref="step"/>, <see cref="zero_grad"/>, one parameter group whose learning rate a
/// learning-rate scheduler reads and sets, <see cref="IBetas"/> for schedulers that cycle momentum.</para>
/// <para>After a step <c>p.grad</c> still holds the raw gradient: the filtered one goes straight into the update and is
/// not written back. A step whose gradients hold a NaN or ±Inf is skipped whole — parameters, moments, the filter's
/// state and the step counts untouched — and reported by <see cref="LastStepSkipped"/>.</para>
/// <para>Runs where the parameters are: on the CPU, the vectorised, multi-threaded twin of the ILGPU kernels; on CUDA, the
/// ILGPU kernels through the driver, each step's constants derived on the device so a step never waits for the GPU.</para>
/// </remarks>
public abstract partial class FusedAdamOptimizer : Optimizer, IBetas, ICheckpointable
{
    private static readonly string[] AdamHyperparameters = ["lr", "beta1", "beta2", "eps", "weight_decay"];

    private readonly GradientFilter filter;
    private readonly FlatParameterBuffer?[] parameterBuffers = [];
    private readonly Tensor? exp_avg;
    private readonly Tensor? exp_avg_sq;
    private readonly Tensor? master_weights;
    private readonly long[] masterOffsets = [];
    private readonly FusedAdamPass? pass;
    private readonly ParamGroup group;
    private readonly bool decoupled;
    private double beta1;
    private double beta2;
    private bool disposed;

    /// <summary>Checks every hyperparameter, then builds the filter, the flat parameter buffer and the moments (released again if a later part fails).</summary>
    private protected FusedAdamOptimizer(Module module, double lr, double beta1, double beta2, double eps, double weight_decay, bool decoupled,
        GrokfastFilter? grokfast, KernelBackend backend, bool skip_non_finite, bool master_weights)
        : base(IntPtr.Zero)
    {
        ArgumentNullException.ThrowIfNull(module);
        Validate(lr, beta1, beta2, eps, weight_decay);
        this.decoupled = decoupled;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weight_decay = weight_decay;
        this.grokfast = grokfast;
        MasterWeights = master_weights;
        filter = grokfast?.Create(module, backend, skip_non_finite) ?? new UnfilteredGradients(module, backend, skip_non_finite);
        if (filter.Groups.FirstOrDefault(g => g.Format == GradientFormat.Float64) is { } float64)
        {
            string name = filter.Parameters[float64.First].Name;
            filter.Dispose();
            throw new NotSupportedException($"Parameter '{name}' is Float64; the fused optimizers take float32, bfloat16 and float16 parameters (the filters take float64 too).");
        }
        group = new ParamGroup
        {
            Parameters = filter.Parameters.Select(p => p.Parameter).ToArray(),
            Options = new OptimizerOptions { LearningRate = lr, InitialLearningRate = lr },
        };
        _parameter_groups = [group];
        try
        {
            Device device = filter.Parameters[0].Parameter.device;
            IReadOnlyList<GradientGroup> groups = filter.Groups;
            // The 16-bit groups' float32 master weights, one after another in layout order.
            masterOffsets = new long[groups.Count];
            long masterLength = 0;
            for (int g = 0; g < groups.Count; g++)
            {
                masterOffsets[g] = masterLength;
                if (master_weights && groups[g].Format != GradientFormat.Float32) masterLength += groups[g].Length;
            }
            if (masterLength > 0) this.master_weights = torch.empty(masterLength, ScalarType.Float32, device);
            parameterBuffers = new FlatParameterBuffer?[groups.Count];
            for (int g = 0; g < groups.Count; g++)
                parameterBuffers[g] = new FlatParameterBuffer(filter.Parameters, groups[g], device, MasterOf(g));
            exp_avg = torch.zeros(filter.ElementCount, ScalarType.Float32, device);
            exp_avg_sq = torch.zeros(filter.ElementCount, ScalarType.Float32, device);
            nint firstMoments = TensorAddress.OfFloat32(exp_avg), secondMoments = TensorAddress.OfFloat32(exp_avg_sq);
            FusedAdamBuffers[] buffers = groups.Select((group, g) => new FusedAdamBuffers(parameterBuffers[g]!.Address, MasterAddress(g),
                firstMoments + (nint)(group.Base * sizeof(float)), secondMoments + (nint)(group.Base * sizeof(float)))).ToArray();
            pass = new FusedAdamPass(buffers) { Settings = Settings(lr) };
            filter.Fuse(pass);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether bfloat16 and float16 parameters are updated through float32 master weights kept in the optimizer's state
    /// (the 16-bit parameter written rounded from its master after each step, so updates smaller than half an ulp still
    /// accumulate), or updated directly with float32 arithmetic. No effect on float32 parameters.
    /// </summary>
    public bool MasterWeights { get; }

    /// <summary>The filter that runs inside the step, or null for a plain fused Adam/AdamW.</summary>
    public GrokfastFilter? grokfast { get; }

    /// <summary>Added to the denominator.</summary>
    public double eps { get; private set; }

    /// <summary>Weight decay: an L2 term added to the gradient (Adam) or a decay of the parameter (AdamW).</summary>
    public double weight_decay { get; private set; }

    /// <summary>The learning rate of the one parameter group (what a scheduler sets).</summary>
    public double lr
    {
        get => group.LearningRate;
        set
        {
            Validate(value, beta1, beta2, eps, weight_decay);
            group.LearningRate = value;
        }
    }

    /// <summary>The decays of the first and second moments, each in [0, 1).</summary>
    public (double, double) Betas
    {
        get => (beta1, beta2);
        set
        {
            Validate(lr, value.Item1, value.Item2, eps, weight_decay);
            (beta1, beta2) = value;
        }
    }

    /// <summary>The backend the fused pass runs on.</summary>
    public KernelBackend Backend => filter.Backend;

    /// <summary>Steps taken so far (skipped steps not counted).</summary>
    public long StepCount => filter.StepCount;

    /// <summary>Steps skipped so far because a gradient held a NaN or ±Inf.</summary>
    public long SkippedStepCount => filter.SkippedStepCount;

    /// <summary>True when the last <see cref="step"/> found a non-finite gradient and changed nothing.</summary>
    public bool LastStepSkipped => filter.LastStepSkipped;

    /// <summary>Whether a step whose gradients hold a NaN or ±Inf is skipped whole (on by default; see <see cref="GradientFilter.SkipNonFinite"/>).</summary>
    public bool SkipNonFinite
    {
        get => filter.SkipNonFinite;
        set => filter.SkipNonFinite = value;
    }

    /// <summary>
    /// Bytes one step moves per parameter element, what bandwidth figures count: Adam alone 28 (read g, p, m, v; write
    /// p, m, v), with the EMA or Kalman filter 36, with the windowed mean 52 (its slot and float64 sum as well). The same
    /// for 16-bit parameters with master weights (2 fewer for the gradient, 2 more for writing the parameter beside its
    /// master); 6 fewer without. A model mixing both is averaged over its elements, rounded.
    /// </summary>
    public int BytesPerElement => filter.FusedAdamBytesPerElement(MasterWeights);

    /// <summary>Trainable parameters (elements) the optimizer updates.</summary>
    public long ElementCount => filter.ElementCount;

    /// <summary>
    /// One fused step over every parameter that has a gradient: the filter (if any) and Adam/AdamW in one pass. A
    /// parameter without a gradient is left out, its state and step count unchanged, as <c>torch.optim.Adam</c> does.
    /// </summary>
    /// <param name="closure">Optional: re-evaluates the model and returns the loss, which the step then returns.</param>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        ThrowIfDisposed();
        Tensor? loss = null;
        if (closure is not null)
        {
            using (torch.enable_grad()) loss = closure();
        }
        double rate = group.LearningRate;
        if (!(rate >= 0 && double.IsFinite(rate)))
            throw new InvalidOperationException($"Invalid learning rate: {rate}; lr must be finite and >= 0 (it was set through the parameter group).");
        pass!.Settings = Settings(rate);
        foreach (FlatParameterBuffer? buffer in parameterBuffers) buffer!.Refresh();
        filter.step();
        return loss!;
    }

    /// <summary>Zeroes every gradient in place, in one pass over the flat gradient buffer (the gradients stay its views).</summary>
    public override void zero_grad()
    {
        ThrowIfDisposed();
        filter.ZeroGradients();
    }

    /// <summary>The parameters the optimizer updates, in the flat buffers' order.</summary>
    public override IEnumerable<Parameter> parameters() => group.Parameters;

    /// <summary>Not supported: one parameter group covers the model.</summary>
    public override void add_param_group(ParamGroup param_group) =>
        throw new NotSupportedException("The fused optimizer has one parameter group, covering the model's trainable parameters.");

    /// <summary>
    /// Copies of the state tensors by name, flat in the parameters' order: exp_avg, exp_avg_sq, master_weights (the 16-bit
    /// parameters' float32 copies, when kept) and the filter's. The caller owns the copies.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> state()
    {
        ThrowIfDisposed();
        var copies = new Dictionary<string, Tensor>(filter.state());
        using (torch.no_grad())
        {
            copies[nameof(exp_avg)] = exp_avg!.clone().DetachFromDisposeScope();
            copies[nameof(exp_avg_sq)] = exp_avg_sq!.clone().DetachFromDisposeScope();
            if (master_weights is not null) copies[nameof(master_weights)] = master_weights.clone().DetachFromDisposeScope();
        }
        return copies;
    }

    /// <summary>Frees the moments, the filter and the buffers; the parameters keep their values and gradients.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !disposed)
        {
            disposed = true;
            filter.Dispose();
            exp_avg?.Dispose();
            exp_avg_sq?.Dispose();
            master_weights?.Dispose();
            // The parameters stay views of the flat buffers: they keep their storage alive through their own references.
            foreach (FlatParameterBuffer? buffer in parameterBuffers) buffer?.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>Group <paramref name="g"/>'s slice of the master weights, or null where it has none (float32, or master weights off).</summary>
    private Tensor? MasterOf(int g) =>
        master_weights is not null && filter.Groups[g].Format != GradientFormat.Float32 ? master_weights.narrow(0, masterOffsets[g], filter.Groups[g].Length) : null;

    private nint MasterAddress(int g) =>
        master_weights is not null && filter.Groups[g].Format != GradientFormat.Float32 ? TensorAddress.OfFloat32(master_weights) + (nint)(masterOffsets[g] * sizeof(float)) : 0;

    /// <summary>Rounds every 16-bit parameter from its float32 master, just loaded.</summary>
    private void RestoreParametersFromMasters()
    {
        using (torch.no_grad())
        {
            for (int g = 0; g < parameterBuffers.Length; g++)
            {
                using Tensor? master = MasterOf(g);
                if (master is not null) parameterBuffers[g]!.Tensor.copy_(master);
            }
        }
    }

    private string Kind => $"{(decoupled ? "adamw" : "adam")}+{filter.Kind}";

    private AdamSettings Settings(double rate) => new(rate, beta1, beta2, eps, weight_decay, decoupled);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    private static void Validate(double lr, double beta1, double beta2, double eps, double weight_decay)
    {
        if (!(lr >= 0 && double.IsFinite(lr)))
            throw new ArgumentOutOfRangeException(nameof(lr), lr, $"Invalid learning rate: {lr}; lr must be finite and >= 0.");
        if (!(beta1 >= 0 && beta1 < 1))
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"Invalid beta1: {beta1}; beta1 must be in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1))
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"Invalid beta2: {beta2}; beta2 must be in [0, 1).");
        if (!(eps >= 0 && double.IsFinite(eps)))
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"Invalid eps: {eps}; eps must be finite and >= 0.");
        if (!(weight_decay >= 0 && double.IsFinite(weight_decay)))
            throw new ArgumentOutOfRangeException(nameof(weight_decay), weight_decay, $"Invalid weight_decay: {weight_decay}; weight_decay must be finite and >= 0.");
    }
}
