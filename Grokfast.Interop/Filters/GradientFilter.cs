using Grokfast.Bridge;
using Grokfast.Checkpoints;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Engine;
using Grokfast.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Filters;

/// <summary>
/// What every Grokfast filter shares: the flat gradient buffer, the choice of backend, the per-step
/// bookkeeping and deterministic disposal. Call <see cref="step"/> between <c>loss.backward()</c> and
/// <c>optimizer.step()</c>.
/// </summary>
/// <remarks>
/// On the CPU the host decides each step: it scans for non-finite gradients, computes the step's constants and
/// counts the steps. On CUDA all of that stays on the device (<see cref="CudaStepState"/>), so a step only queues
/// work and never waits for the GPU; the host reads the counts back when asked for them (<see cref="StepCount"/>,
/// <see cref="LastStepSkipped"/>, <see cref="SkippedStepCount"/>, a checkpoint).
/// </remarks>
public abstract partial class GradientFilter : IDisposable, ICheckpointable, IRunStepper
{
    private readonly GradientSteps steps;
    // False inside a fused optimizer, which owns the steps and drives them.
    private readonly bool ownsSteps;
    private bool disposed;

    /// <summary>
    /// Checks the arguments (<paramref name="validateHyperparameters"/> throws for the filter kind's own), then builds
    /// the flat gradient buffer for <paramref name="target"/>'s parameters (or takes a fused optimizer's): nothing is
    /// allocated or rebound before every argument is known good, and what was taken is released if a later step fails.
    /// </summary>
    private protected GradientFilter(FilterTarget target, KernelBackend backend, bool skipNonFinite, Action validateHyperparameters)
    {
        if (!Enum.IsDefined(backend))
            throw new ArgumentOutOfRangeException(nameof(backend), backend, "Unknown backend.");
        validateHyperparameters();
        (steps, ownsSteps) = target.Open(backend, skipNonFinite);
        if (Backend != KernelBackend.Cpu && Float64Group is not null)
        {
            TrainableParameter first = steps.Parameters[Float64Group.First];
            if (ownsSteps) steps.Dispose();
            throw new NotSupportedException($"Parameter '{first.Name}' is Float64: float64 parameters are filtered by the CPU twin only " +
                $"(backend Cpu), not by {Backend}; float32, bfloat16 and float16 ones run on every backend.");
        }
    }

    /// <summary>ILGPU's CPU accelerator when the backend is <see cref="KernelBackend.IlgpuCpu"/>, else null.</summary>
    private protected IlgpuAccelerator? Accelerator => steps.Accelerator;

    /// <summary>The parameters' device's primary context when the backend is <see cref="KernelBackend.Cuda"/>, else null.</summary>
    private protected CudaPrimaryContext? CudaContext => steps.CudaContext;

    /// <summary>The step bookkeeping on the device when the backend is <see cref="KernelBackend.Cuda"/>, else null.</summary>
    private protected CudaStepState? DeviceSteps => steps.DeviceSteps;

    /// <summary>The backend the fused pass runs on, resolved from the requested one and the parameters' device.</summary>
    public KernelBackend Backend => steps.Backend;

    /// <summary>Trainable parameters (elements) the filter covers.</summary>
    public long ElementCount => steps.ElementCount;

    /// <summary>Trainable parameters (tensors) the filter covers.</summary>
    public int ParameterCount => steps.Parameters.Count;

    /// <summary>
    /// Data-parallel training: the communicator across whose ranks each step first averages the gradients (one collective
    /// per flat buffer), so every rank filters the same average; null (the default) for none. Inside a fused optimizer,
    /// set the optimizer's instead. The communicator stays yours to dispose.
    /// </summary>
    public Kernels.Distributed.ICommunicator? communicator
    {
        get => steps.Communicator;
        set => steps.Communicator = value;
    }

    /// <summary>Steps taken so far (skipped steps not counted). On CUDA, reading it waits for the queued steps.</summary>
    public long StepCount => Counts.StepCount;

    /// <summary>Steps skipped so far because a gradient held a NaN or ±Inf. On CUDA, reading it waits for the queued steps.</summary>
    public long SkippedStepCount => Counts.SkippedStepCount;

    /// <summary>
    /// Whether a step whose gradients hold a NaN or ±Inf is skipped — state and gradients left exactly as they
    /// were, so a loss scaler's own skip logic still sees them. On by default; off saves one read of the
    /// gradients per step. Can be switched between steps.
    /// </summary>
    public bool SkipNonFinite
    {
        get => steps.SkipNonFinite;
        set => steps.SkipNonFinite = value;
    }

    /// <summary>
    /// When false, <see cref="step"/> does nothing — the gradients pass through and the state stays as it
    /// is — so a filter can be switched off and on again without losing what it has learned, or held off
    /// until a given step (<c>grokfast.Enabled = step &gt;= start</c>).
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>True when the last <see cref="step"/> found a non-finite gradient and did nothing. On CUDA, reading it waits for the queued steps.</summary>
    public bool LastStepSkipped => Counts.LastStepSkipped;

    /// <summary>Parameters that had no gradient in the last step; their state was left unchanged.</summary>
    public int SkippedParameterCount => steps.Book.SkippedParameterCount;

    /// <summary>Gradients copied into the flat buffer because they had stopped being its views; stays put in a zero-copy loop.</summary>
    public long GradientCopies => steps.Gradients.GradientCopies;

    /// <summary>The parameters' device, where the filter kinds allocate their state.</summary>
    private protected Device StateDevice => steps.Gradients.Device;

    /// <summary>
    /// The flat gradient buffers, one per parameter group and gradient format: each filter kind binds one kernel per group,
    /// to the group's buffer and to its part of the state, which starts at element <see cref="GradientGroup.Base"/>.
    /// </summary>
    internal IReadOnlyList<GradientGroup> Groups => steps.Groups;

    /// <summary>The trainable parameters in the flat buffer's order, with their offsets.</summary>
    internal IReadOnlyList<TrainableParameter> Parameters => steps.Parameters;

    /// <summary>
    /// Set when the filter runs inside a fused optimizer (<see cref="Grokfast.Optim.FusedAdamOptimizer"/>): each run then
    /// takes the filter's and Adam's step in one pass, instead of the filter's alone.
    /// </summary>
    internal FusedAdamPass? FusedAdam { get; private set; }

    /// <summary>Makes every later step the filter's and Adam's in one pass, over the buffers of <paramref name="adam"/>.</summary>
    internal void Fuse(FusedAdamPass adam)
    {
        ThrowIfDisposed();
        Fused(adam);
        FusedAdam = adam;
    }

    /// <summary>Rebuilds the filter kind's passes to step Adam on <paramref name="adam"/>'s buffers after the filter.</summary>
    private protected abstract void Fused(FusedAdamPass adam);

    /// <summary>
    /// Filters every parameter's gradient in place, in one fused pass over the flat buffer. Parameters
    /// with no gradient this step are left out and keep their state.
    /// </summary>
    public void step()
    {
        ThrowIfDisposed();
        if (!ownsSteps) throw new InvalidOperationException("This filter runs inside a fused optimizer; its optimizer's step() steps it.");
        if (Enabled) steps.Step(this);
    }

    /// <summary>The amplification a step on its own applies (a fused optimizer gives each parameter group's).</summary>
    private protected abstract double OwnLamb { get; }

    bool IRunStepper.Filters(int group) => true;

    bool IRunStepper.Updates => false;

    void IRunStepper.Run(ParameterRun run) => FilterRun(run, OwnLamb);

    void IRunStepper.Run(DeviceRun run, int group) => FilterRunOnDevice(run, group, OwnLamb);

    /// <summary>Runs the pass over one run of parameters that share their step counts, with constants from the host and amplification <paramref name="lamb"/>.</summary>
    internal abstract void FilterRun(ParameterRun run, double lamb);

    /// <summary>Queues the CUDA step of one run of <paramref name="group"/>: its constants derived on the device, then the pass.</summary>
    internal abstract void FilterRunOnDevice(DeviceRun run, int group, double lamb);

    // The counts, on CUDA read back from the device when a step was queued since (so never after disposal).
    private (long StepCount, long SkippedStepCount, bool LastStepSkipped) Counts
    {
        get
        {
            if (steps.Book.CountsPending) ThrowIfDisposed();
            return steps.Counts;
        }
    }

    /// <summary>Where group <paramref name="group"/>'s part of a float32 state buffer at <paramref name="state"/> starts.</summary>
    private protected nint StateOf(nint state, int group) => state + (nint)(steps.Groups[group].StateBase * sizeof(float));

    /// <summary>Elements whose filter state is float32 (the float32, bfloat16 and float16 groups'): the float32 state's length.</summary>
    private protected long Float32StateLength => steps.Float32StateLength;

    /// <summary>Elements whose filter state is float64 (the float64 group's): the float64 state's length, 0 in most models.</summary>
    private protected long Float64StateLength => steps.Float64StateLength;

    /// <summary>The group of float64 gradients, filtered in double with float64 state, or null.</summary>
    private protected GradientGroup? Float64Group => steps.Groups.FirstOrDefault(g => g.Format == GradientFormat.Float64);

    /// <summary>
    /// Bytes one step moves per gradient element, what bandwidth figures count: the pass — the EMA and Kalman filters 16
    /// on float32 gradients, 12 on bfloat16 and float16 ones; the windowed mean 32 and 28 — and, with
    /// <see cref="SkipNonFinite"/> on (the default), the guard's read of the gradients before it (4 and 2 more: 20, 14,
    /// 36, 30). A model of several dtypes averages them over its elements, rounded.
    /// </summary>
    public int BytesPerElement => AverageBytesPerElement(_ => PassUpdate.WriteBack, scanned: SkipNonFinite);

    /// <summary>
    /// Bytes the filter's step fused with Adam's moves per parameter element (see <see cref="FusedAdamOptimizer.BytesPerElement"/>):
    /// 16-bit groups through master weights when <paramref name="masterWeights"/>, the gradients read once more first
    /// when <paramref name="scanned"/>.
    /// </summary>
    internal int FusedAdamBytesPerElement(bool masterWeights, bool scanned) => AverageBytesPerElement(format =>
        masterWeights && format != GradientFormat.Float32 ? PassUpdate.AdamMaster : PassUpdate.AdamDirect, scanned);

    private int AverageBytesPerElement(Func<GradientFormat, PassUpdate> update, bool scanned) =>
        steps.AverageBytesPerElement(g => BytesPerElementOf(g.Format, update(g.Format)), scanned);

    /// <summary>Bytes the filter kind's pass moves per element of gradients of <paramref name="format"/>, ending in <paramref name="update"/>.</summary>
    private protected abstract int BytesPerElementOf(GradientFormat format, PassUpdate update);

    /// <summary>The filter's kind as checkpoints name it: ema, ma or kalman.</summary>
    internal abstract string Kind { get; }

    /// <summary>The hyperparameters a checkpoint records and a load must match, by their Python names.</summary>
    private protected abstract IReadOnlyDictionary<string, double> Hyperparameters { get; }

    /// <summary>The state tensors by name (the EMA's average; the MA's ring and sums; the Kalman estimates).</summary>
    private protected abstract IReadOnlyDictionary<string, Tensor> StateTensors { get; }

    /// <summary>
    /// Copies of the filter's current state tensors by name, flat in the parameters' order — e.g. the EMA's
    /// <c>average</c>, for plotting the slow component. The caller owns (and disposes) the copies.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> state()
    {
        ThrowIfDisposed();
        using (torch.no_grad())
            return StateTensors.ToDictionary(t => t.Key, t => t.Value.detach().clone().DetachFromDisposeScope());
    }

    /// <summary>Frees the filter's state and kernels; the parameters keep their gradients.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeState();
        if (ownsSteps) steps?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees what the filter kind allocated, tolerating what a failed constructor never allocated.</summary>
    private protected abstract void DisposeState();

    /// <summary>Throws if this filter has been disposed.</summary>
    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
