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
public abstract partial class GradientFilter : IDisposable, ICheckpointable
{
    private readonly FlatGradientBuffer gradients;
    private readonly bool[] hasGradient;
    private readonly StepBook book;
    private bool disposed;
    private int stepping;

    /// <summary>ILGPU's CPU accelerator when the backend is <see cref="KernelBackend.IlgpuCpu"/>, else null.</summary>
    private protected IlgpuAccelerator? Accelerator { get; }

    /// <summary>The parameters' device's primary context when the backend is <see cref="KernelBackend.Cuda"/>, else null.</summary>
    private protected CudaPrimaryContext? CudaContext { get; }

    /// <summary>The step bookkeeping on the device when the backend is <see cref="KernelBackend.Cuda"/>, else null.</summary>
    private protected CudaStepState? DeviceSteps { get; }

    /// <summary>
    /// Checks the arguments (<paramref name="validateHyperparameters"/> throws for the filter kind's own), then builds
    /// the flat gradient buffer for the trainable parameters of <paramref name="module"/>: nothing is allocated or
    /// rebound before every argument is known good, and what was taken is released if a later step fails.
    /// </summary>
    private protected GradientFilter(Module module, KernelBackend backend, bool skipNonFinite, Action validateHyperparameters)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (!Enum.IsDefined(backend))
            throw new ArgumentOutOfRangeException(nameof(backend), backend, "Unknown backend.");
        validateHyperparameters();
        SkipNonFinite = skipNonFinite;
        gradients = new FlatGradientBuffer(module);
        try
        {
            Backend = FilterBackends.Resolve(backend, gradients.Device);
            if (Backend != KernelBackend.Cpu && Float64Group is not null)
            {
                TrainableParameter first = gradients.Parameters[Float64Group.First];
                throw new NotSupportedException($"Parameter '{first.Name}' is Float64: float64 parameters are filtered by the CPU twin only " +
                    $"(backend Cpu), not by {Backend}; float32, bfloat16 and float16 ones run on every backend.");
            }
            Accelerator = Backend == KernelBackend.IlgpuCpu ? IlgpuAccelerator.CreateCpu() : null;
            if (Backend == KernelBackend.Cuda)
            {
                CudaContext = FilterBackends.OpenCudaContext(gradients.Device);
                DeviceSteps = new CudaStepState(CudaContext, gradients.Parameters.Count, gradients.Groups.Select(g => g.Format));
            }
            LibTorchThreads.EnsureBound();
        }
        catch
        {
            Dispose();
            throw;
        }
        hasGradient = new bool[gradients.Parameters.Count];
        book = new StepBook(gradients.Parameters, gradients.Groups, DeviceSteps);
    }

    /// <summary>The backend the fused pass runs on, resolved from the requested one and the parameters' device.</summary>
    public KernelBackend Backend { get; }

    /// <summary>Trainable parameters (elements) the filter covers.</summary>
    public long ElementCount => gradients.Length;

    /// <summary>Trainable parameters (tensors) the filter covers.</summary>
    public int ParameterCount => gradients.Parameters.Count;

    /// <summary>Steps taken so far (skipped steps not counted). On CUDA, reading it waits for the queued steps.</summary>
    public long StepCount => Counts.StepCount;

    /// <summary>Steps skipped so far because a gradient held a NaN or ±Inf. On CUDA, reading it waits for the queued steps.</summary>
    public long SkippedStepCount => Counts.SkippedStepCount;

    /// <summary>
    /// Whether a step whose gradients hold a NaN or ±Inf is skipped — state and gradients left exactly as they
    /// were, so a loss scaler's own skip logic still sees them. On by default; off saves one read of the
    /// gradients per step. Can be switched between steps.
    /// </summary>
    public bool SkipNonFinite { get; set; }

    /// <summary>
    /// When false, <see cref="step"/> does nothing — the gradients pass through and the state stays as it
    /// is — so a filter can be switched off and on again without losing what it has learned, or held off
    /// until a given step (<c>grokfast.Enabled = step &gt;= start</c>).
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>True when the last <see cref="step"/> found a non-finite gradient and did nothing. On CUDA, reading it waits for the queued steps.</summary>
    public bool LastStepSkipped => Counts.LastStepSkipped;

    /// <summary>Parameters that had no gradient in the last step; their state was left unchanged.</summary>
    public int SkippedParameterCount => book.SkippedParameterCount;

    /// <summary>Gradients copied into the flat buffer because they had stopped being its views; stays put in a zero-copy loop.</summary>
    public long GradientCopies => gradients.GradientCopies;

    /// <summary>The parameters' device, where the filter kinds allocate their state.</summary>
    private protected Device StateDevice => gradients.Device;

    /// <summary>
    /// The flat gradient buffers, one per gradient format present: each filter kind binds one kernel per group, to the
    /// group's buffer and to its part of the state, which starts at element <see cref="GradientGroup.Base"/>.
    /// </summary>
    internal IReadOnlyList<GradientGroup> Groups => gradients.Groups;

    /// <summary>The trainable parameters in the flat buffer's order, with their offsets.</summary>
    internal IReadOnlyList<TrainableParameter> Parameters => gradients.Parameters;

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
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!Enabled) return;
        // One step at a time: two threads stepping one filter would race on its state and the gradients.
        if (Interlocked.Exchange(ref stepping, 1) != 0)
            throw new InvalidOperationException("step() was called from two threads at once; a filter may be used by one thread at a time.");
        try
        {
            FilterAll();
        }
        finally
        {
            Volatile.Write(ref stepping, 0);
        }
    }

    private void FilterAll()
    {
        gradients.Refresh(hasGradient);
        if (DeviceSteps is null) FilterOnHost();
        else FilterOnDevice(DeviceSteps);
    }

    // The host decides: scan every run, then filter every run, or skip the whole step. Index loops: a step allocates nothing.
    private void FilterOnHost()
    {
        book.CollectRuns(hasGradient);
        IReadOnlyList<ParameterRun> runs = book.Runs;
        bool skipped = false;
        for (int r = 0; SkipNonFinite && !skipped && r < runs.Count; r++)
            skipped = !gradients.Groups[runs[r].Group].Format.AllFinite(RunAddress(runs[r]), runs[r].Length);
        for (int r = 0; !skipped && r < runs.Count; r++) FilterRun(runs[r]);
        book.RecordHostStep(skipped);
    }

    /// <summary>
    /// Queues the whole step on libtorch's stream: the skip flag cleared, the scans that may set it, the record of
    /// the step, then per run the prepare kernel and the pass, all of which do nothing when the flag is set.
    /// </summary>
    private void FilterOnDevice(CudaStepState steps)
    {
        book.CollectRuns(hasGradient);
        steps.BeginStep();
        IReadOnlyList<ParameterRun> runs = book.Runs;
        for (int r = 0; SkipNonFinite && r < runs.Count; r++) steps.Scan(RunAddress(runs[r]), runs[r].Length, gradients.Groups[runs[r].Group].Format);
        steps.Record();
        for (int slot = 0; slot < runs.Count; slot++)
        {
            ParameterRun run = runs[slot];
            FilterRunOnDevice(new DeviceRun(slot, run.First, run.End, run.Offset, run.Length), run.Group);
        }
        book.RecordDeviceStep(hasGradient);
    }

    // The counts, on CUDA read back from the device when a step was queued since (so never after disposal).
    private (long StepCount, long SkippedStepCount, bool LastStepSkipped) Counts
    {
        get
        {
            if (book.CountsPending) ThrowIfDisposed();
            return book.Counts;
        }
    }

    private nint RunAddress(ParameterRun run)
    {
        GradientGroup group = gradients.Groups[run.Group];
        return group.Address + (nint)(run.Offset * group.Format.ElementSize());
    }

    /// <summary>Runs the fused pass over one run of parameters that share their step count, with constants from the host.</summary>
    private protected abstract void FilterRun(ParameterRun run);

    /// <summary>Queues the CUDA step of one run of <paramref name="group"/>: its constants derived on the device, then the pass.</summary>
    private protected abstract void FilterRunOnDevice(DeviceRun run, int group);

    /// <summary>Where group <paramref name="group"/>'s part of a float32 state buffer at <paramref name="state"/> starts.</summary>
    private protected nint StateOf(nint state, int group) => state + (nint)(gradients.Groups[group].StateBase * sizeof(float));

    /// <summary>Elements whose filter state is float32 (the float32, bfloat16 and float16 groups'): the float32 state's length.</summary>
    private protected long Float32StateLength => gradients.Float32StateLength;

    /// <summary>Elements whose filter state is float64 (the float64 group's): the float64 state's length, 0 in most models.</summary>
    private protected long Float64StateLength => gradients.Float64StateLength;

    /// <summary>The group of float64 gradients, filtered in double with float64 state, or null.</summary>
    private protected GradientGroup? Float64Group => gradients.Groups.FirstOrDefault(g => g.Format == GradientFormat.Float64);

    /// <summary>
    /// Bytes one step moves per gradient element, what bandwidth figures count: the EMA and Kalman filters 16 on float32
    /// gradients, 12 on bfloat16 and float16 ones; the windowed mean 32 and 28. A model of several dtypes averages them
    /// over its elements, rounded.
    /// </summary>
    public int BytesPerElement => AverageBytesPerElement(_ => PassUpdate.WriteBack);

    /// <summary>
    /// Bytes the filter's step fused with Adam's moves per parameter element (see <see cref="FusedAdamOptimizer.BytesPerElement"/>):
    /// 16-bit groups through master weights when <paramref name="masterWeights"/>.
    /// </summary>
    internal int FusedAdamBytesPerElement(bool masterWeights) => AverageBytesPerElement(format =>
        masterWeights && format != GradientFormat.Float32 ? PassUpdate.AdamMaster : PassUpdate.AdamDirect);

    private int AverageBytesPerElement(Func<GradientFormat, PassUpdate> update) =>
        (int)Math.Round(gradients.Groups.Sum(g => (double)g.Length * BytesPerElementOf(g.Format, update(g.Format))) / gradients.Length);

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

    /// <summary>
    /// Zeroes every gradient in place, in one pass over the flat buffer; a gradient that had stopped being its view is
    /// made one again first, so it is zeroed too.
    /// </summary>
    internal void ZeroGradients()
    {
        ThrowIfDisposed();
        gradients.Refresh(hasGradient);
        gradients.Zero();
    }

    /// <summary>Frees the filter's state and kernels; the parameters keep their gradients.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeState();
        DeviceSteps?.Dispose();
        CudaContext?.Dispose();
        Accelerator?.Dispose();
        gradients?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees what the filter kind allocated, tolerating what a failed constructor never allocated.</summary>
    private protected abstract void DisposeState();

    /// <summary>Throws if this filter has been disposed.</summary>
    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
