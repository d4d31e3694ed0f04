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
public abstract class GradientFilter : IDisposable
{
    private readonly FlatGradientBuffer gradients;
    private readonly bool[] hasGradient;
    private readonly long[] stepsFiltered;
    private readonly List<ParameterRun> runs = [];
    private bool disposed;
    private int stepping;
    private long stepCount;
    private long skippedStepCount;
    private bool lastStepSkipped;

    // The CUDA path's host side: steps queued so far; which parameters are known to share a step count (equal keys),
    // so runs can be formed without reading the counts back; and whether the host's copies of the counts are stale.
    private readonly long[]? runKeys;
    private long stepsQueued;
    private bool deviceCountsPending;

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
            Backend = ResolveBackend(backend, gradients.Device);
            if (Backend != KernelBackend.Cpu && Float64Group is not null)
            {
                TrainableParameter first = gradients.Parameters[Float64Group.First];
                throw new NotSupportedException($"Parameter '{first.Name}' is Float64: float64 parameters are filtered by the CPU twin only " +
                    $"(backend Cpu), not by {Backend}; float32, bfloat16 and float16 ones run on every backend.");
            }
            Accelerator = Backend == KernelBackend.IlgpuCpu ? IlgpuAccelerator.CreateCpu() : null;
            if (Backend == KernelBackend.Cuda)
            {
                CudaContext = OpenCudaContext(gradients.Device);
                DeviceSteps = new CudaStepState(CudaContext, gradients.Parameters.Count, gradients.Groups.Select(g => g.Format));
                runKeys = new long[gradients.Parameters.Count];
            }
            LibTorchThreads.EnsureBound();
        }
        catch
        {
            Dispose();
            throw;
        }
        hasGradient = new bool[gradients.Parameters.Count];
        stepsFiltered = new long[gradients.Parameters.Count];
    }

    /// <summary>The backend the fused pass runs on, resolved from the requested one and the parameters' device.</summary>
    public KernelBackend Backend { get; }

    /// <summary>Trainable parameters (elements) the filter covers.</summary>
    public long ElementCount => gradients.Length;

    /// <summary>Trainable parameters (tensors) the filter covers.</summary>
    public int ParameterCount => gradients.Parameters.Count;

    /// <summary>Steps taken so far (skipped steps not counted). On CUDA, reading it waits for the queued steps.</summary>
    public long StepCount => ReadDeviceCounts().stepCount;

    /// <summary>Steps skipped so far because a gradient held a NaN or ±Inf. On CUDA, reading it waits for the queued steps.</summary>
    public long SkippedStepCount => ReadDeviceCounts().skippedStepCount;

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
    public bool LastStepSkipped => ReadDeviceCounts().lastStepSkipped;

    /// <summary>Parameters that had no gradient in the last step; their state was left unchanged.</summary>
    public int SkippedParameterCount { get; private set; }

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

    private void FilterOnHost()
    {
        CollectRuns(stepsFiltered);
        lastStepSkipped = SkipNonFinite && !RunsAreFinite();
        if (lastStepSkipped)
        {
            skippedStepCount++;
            return;
        }
        foreach (ParameterRun run in runs)
        {
            FilterRun(run);
            for (int i = run.First; i < run.End; i++) stepsFiltered[i]++;
        }
        stepCount++;
    }

    /// <summary>
    /// Queues the whole step on libtorch's stream: the skip flag cleared, the scans that may set it, the record of
    /// the step, then per run the prepare kernel and the pass, all of which do nothing when the flag is set.
    /// </summary>
    private void FilterOnDevice(CudaStepState steps)
    {
        CollectRuns(runKeys!);
        steps.BeginStep();
        if (SkipNonFinite)
            foreach (ParameterRun run in runs) steps.Scan(RunAddress(run), run.Length, gradients.Groups[run.Group].Format);
        steps.Record();
        for (int slot = 0; slot < runs.Count; slot++)
        {
            ParameterRun run = runs[slot];
            FilterRunOnDevice(new DeviceRun(slot, run.First, run.End, run.Offset, run.Length), run.Group);
        }
        stepsQueued++;
        deviceCountsPending = true;
        SeparateRunKeys();
    }

    /// <summary>
    /// After a CUDA step that left some parameters out, parameters that shared a key share it only with those that
    /// did the same this step: equal keys still mean equal step counts, whether or not the step was skipped.
    /// </summary>
    private void SeparateRunKeys()
    {
        if (SkippedParameterCount == 0) return;
        var renumbered = new Dictionary<(long, bool), long>();
        for (int i = 0; i < runKeys!.Length; i++)
        {
            (long, bool) key = (runKeys[i], hasGradient[i]);
            if (!renumbered.TryGetValue(key, out long next)) renumbered[key] = next = renumbered.Count;
            runKeys[i] = next;
        }
    }

    /// <summary>
    /// The step counts: the host's own on the CPU; on CUDA, read back from the device (waiting for the queued steps)
    /// when a step has been queued since they were last read.
    /// </summary>
    private (long stepCount, long skippedStepCount, bool lastStepSkipped) ReadDeviceCounts()
    {
        if (deviceCountsPending)
        {
            ThrowIfDisposed();
            (skippedStepCount, lastStepSkipped) = DeviceSteps!.ReadOutcome();
            stepCount = stepsQueued - skippedStepCount;
            DeviceSteps.ReadSteps(stepsFiltered);
            // Equal counts are equal keys: runs merge again where histories converged.
            stepsFiltered.CopyTo(runKeys!, 0);
            deviceCountsPending = false;
        }
        return (stepCount, skippedStepCount, lastStepSkipped);
    }

    /// <summary>
    /// Splits the parameters that have a gradient into runs of consecutive ones of one group with equal
    /// <paramref name="keys"/> (filtered equally often), which share one set of step constants: one launch each, one per
    /// gradient format for the whole model in a normal loop.
    /// </summary>
    private void CollectRuns(long[] keys)
    {
        IReadOnlyList<TrainableParameter> parameters = gradients.Parameters;
        runs.Clear();
        int skipped = 0;
        for (int first = 0; first < parameters.Count;)
        {
            if (!hasGradient[first])
            {
                skipped++;
                first++;
                continue;
            }
            int end = first + 1;
            int group = parameters[first].Group;
            while (end < parameters.Count && hasGradient[end] && keys[end] == keys[first] && parameters[end].Group == group) end++;
            long offset = parameters[first].Offset;
            long length = parameters[end - 1].Offset + parameters[end - 1].Length - offset;
            runs.Add(new ParameterRun(first, end, group, offset - gradients.Groups[group].Base, length, stepsFiltered[first]));
            first = end;
        }
        SkippedParameterCount = skipped;
    }

    private bool RunsAreFinite()
    {
        foreach (ParameterRun run in runs)
        {
            if (!gradients.Groups[run.Group].Format.AllFinite(RunAddress(run), run.Length)) return false;
        }
        return true;
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

    /// <summary>The state a checkpoint holds, each buffer streamed from and into where it lives.</summary>
    internal virtual IReadOnlyList<StateBuffer> StateBuffers =>
        StateTensors.Select(t => (StateBuffer)new TensorStateBuffer(t.Key, t.Value)).ToList();

    /// <summary>Brings host copies of device-side state up to date before a checkpoint reads them (the Kalman covariances on CUDA).</summary>
    internal virtual void BeforeStateSaved()
    {
    }

    /// <summary>Pushes state a checkpoint has just written on the host to where the kernels read it.</summary>
    internal virtual void AfterStateLoaded()
    {
    }

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
    /// A snapshot of the filter's whole state, to save or to load into a filter for the same model; each buffer is held
    /// in an array, so a buffer of more than 2 GiB throws <see cref="InvalidOperationException"/> (<see cref="save"/> streams any size).
    /// </summary>
    public GradientFilterState state_dict()
    {
        ThrowIfDisposed();
        long steps = StepCount;
        BeforeStateSaved();
        return new GradientFilterState(Kind, Hyperparameters, steps, ParameterRecords(), StateBuffers.ToDictionary(b => b.Name, b => b.ToArray()));
    }

    /// <summary>
    /// Restores a state from <see cref="state_dict"/>. A state of another filter kind, other hyperparameters
    /// or another model (parameter names or shapes) throws <see cref="ArgumentException"/> and leaves this
    /// filter's state as it was.
    /// </summary>
    public void load_state_dict(GradientFilterState state)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(state);
        CheckStateFits(state);
        // Everything matches: only now, with the queued steps done, is any state overwritten.
        FinishQueuedSteps();
        state.CopyInto(StateBuffers);
        RestoreCounts(state);
    }

    /// <summary>The header a checkpoint of this filter carries.</summary>
    internal CheckpointHeader CheckpointHeader() => new(GradientFilterState.FormatVersion, Kind, Hyperparameters, StepCount, ParameterRecords());

    /// <summary>Throws <see cref="ArgumentException"/> naming the first thing in <paramref name="state"/> that does not fit this filter.</summary>
    internal void CheckStateFits(GradientFilterState state)
    {
        if (state.Kind != Kind)
            throw new ArgumentException($"The checkpoint holds the state of a {state.Kind} filter; this is a {Kind} filter.", nameof(state));
        foreach ((string name, double value) in Hyperparameters)
        {
            if (!state.Hyperparameters.TryGetValue(name, out double saved))
                throw new ArgumentException($"The checkpoint records no {name}; this filter has {name} = {value}.", nameof(state));
            if (!saved.Equals(value))
                throw new ArgumentException($"The checkpoint was saved with {name} = {saved}; this filter has {name} = {value}.", nameof(state));
        }
        IReadOnlyList<TrainableParameter> parameters = gradients.Parameters;
        if (state.Parameters.Count != parameters.Count)
            throw new ArgumentException($"The checkpoint is for another model: {state.Parameters.Count} trainable parameters, where this filter's model has {parameters.Count}.", nameof(state));
        for (int i = 0; i < parameters.Count; i++)
        {
            var mine = new ParameterRecord(parameters[i].Name, parameters[i].Shape, 0);
            if (!state.Parameters[i].SameParameterAs(mine))
                throw new ArgumentException($"The checkpoint's parameter {i} is '{state.Parameters[i].Name}' [{string.Join(", ", state.Parameters[i].Shape)}]; " +
                    $"this filter's is '{mine.Name}' [{string.Join(", ", mine.Shape)}]: a checkpoint of another model.", nameof(state));
        }
        foreach (StateBuffer buffer in StateBuffers)
        {
            if (!state.BufferLengths.TryGetValue(buffer.Name, out long length) || length != buffer.Length)
                throw new ArgumentException($"The checkpoint's state buffer '{buffer.Name}' is missing or not {buffer.Length} bytes long.", nameof(state));
        }
    }

    /// <summary>On CUDA, waits for the steps queued on the stream, so that nothing overwrites state a load is about to write.</summary>
    internal void FinishQueuedSteps() => ReadDeviceCounts();

    /// <summary>Takes the step counts from a state whose buffers have just been loaded, after <see cref="FinishQueuedSteps"/>.</summary>
    internal void RestoreCounts(GradientFilterState state)
    {
        AfterStateLoaded();
        for (int i = 0; i < stepsFiltered.Length; i++) stepsFiltered[i] = state.Parameters[i].StepsFiltered;
        stepCount = state.StepCount;
        if (DeviceSteps is not null)
        {
            DeviceSteps.WriteSteps(stepsFiltered);
            stepsFiltered.CopyTo(runKeys!, 0);
            stepsQueued = stepCount + skippedStepCount;
        }
    }

    private List<ParameterRecord> ParameterRecords() =>
        gradients.Parameters.Select((p, i) => new ParameterRecord(p.Name, p.Shape, stepsFiltered[i])).ToList();

    /// <summary>
    /// Zeroes every gradient in place, in one pass over the flat buffer; a gradient that had stopped being its view is
    /// made one again first, so it is zeroed too.
    /// </summary>
    internal void ZeroGradients()
    {
        ThrowIfDisposed();
        gradients.Refresh(hasGradient);
        using (torch.no_grad())
        {
            foreach (GradientGroup group in gradients.Groups)
            {
                // zero_() hands back a second handle to the same tensor; disposing it frees the handle, not the buffer.
                using Tensor zeroed = group.Tensor.zero_();
            }
        }
    }

    /// <summary>
    /// Saves the state to <paramref name="path"/>, streaming each buffer from its tensor to the file (no copy of the
    /// state in memory): written to a temporary file of its own in the same folder, flushed to disk and renamed into
    /// place, so a save that fails or is killed leaves the previous checkpoint whole, and two saves to one path never mix.
    /// </summary>
    public void save(string path)
    {
        ThrowIfDisposed();
        CheckpointHeader header = CheckpointHeader();
        BeforeStateSaved();
        CheckpointFile.Save(path, header, StateBuffers);
    }

    /// <summary>
    /// Loads a state saved by <see cref="save"/> from <paramref name="path"/>; see <see cref="load(Stream)"/>.
    /// </summary>
    public void load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using FileStream file = CheckpointFile.OpenRead(path);
        load(file);
    }

    /// <summary>
    /// Loads a state saved by <c>save</c> (or <see cref="GradientFilterState.Save"/>) from <paramref name="stream"/>,
    /// read once, in order: each buffer streams into a staging copy of the state it replaces, and only when the whole file
    /// has been read, its checksum matched and it has been checked as <c>load_state_dict</c> checks a state is the state
    /// overwritten from the copies. A load that fails at any point — a read error, a truncated, corrupted or changing
    /// file, a state that does not fit — throws and leaves the state as it was. The staging copies cost as much memory as
    /// the state, where it lives, while the load runs (as PyTorch's <c>load_state_dict</c> holds the loaded state beside
    /// the live one).
    /// </summary>
    public void load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfDisposed();
        StagedCheckpoint.Load(stream, StateBuffers, load_state_dict);
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

    private static CudaPrimaryContext OpenCudaContext(Device device)
    {
        try
        {
            return CudaPrimaryContext.Open(Math.Max(0, device.index));
        }
        catch (CudaUnavailableException error)
        {
            throw new CudaUnavailableException($"The parameters are on {device}, but {error.Message}");
        }
    }

    private static KernelBackend ResolveBackend(KernelBackend backend, Device device)
    {
        bool onCpu = device.type == DeviceType.CPU;
        bool onCuda = device.type == DeviceType.CUDA;
        return backend switch
        {
            KernelBackend.Auto when onCpu => KernelBackend.Cpu,
            KernelBackend.Auto when onCuda => KernelBackend.Cuda,
            KernelBackend.Cpu or KernelBackend.IlgpuCpu when onCpu => backend,
            KernelBackend.Cuda when onCuda => backend,
            KernelBackend.Cpu or KernelBackend.IlgpuCpu when onCuda => throw new ArgumentException(
                $"Backend {backend} filters host memory, but the parameters are on {device}; use Auto or Cuda.", nameof(backend)),
            KernelBackend.Cuda when onCpu => throw new ArgumentException(
                $"Backend Cuda filters CUDA device memory, but the parameters are on {device}; use Auto, Cpu or IlgpuCpu.", nameof(backend)),
            _ => throw new NotSupportedException(
                $"The parameters are on {device}: Grokfast filters CPU tensors (backends Cpu, IlgpuCpu) and CUDA tensors (backend Cuda)."),
        };
    }
}
