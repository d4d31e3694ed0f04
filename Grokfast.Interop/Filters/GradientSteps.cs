using Grokfast.Bridge;
using Grokfast.Checkpoints;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Filters;

/// <summary>
/// What a step runs on, shared by the filters and the fused optimizers: the flat gradient buffer, the backend and its
/// context, the step bookkeeping, the non-finite guard, and the step itself — refresh the views, form the runs, scan,
/// then hand each run to an <see cref="IRunStepper"/>. A fused optimizer's steps also measure the gradients' norm for
/// clipping, in the same read as the guard.
/// </summary>
/// <remarks>
/// On the CPU the host decides each step: it scans for non-finite gradients, computes the step's constants and counts
/// the steps. On CUDA all of that stays on the device (<see cref="CudaStepState"/>), so a step only queues work and never
/// waits for the GPU; the host reads the counts back when asked for them.
/// </remarks>
internal sealed class GradientSteps : IDisposable
{
    private readonly FlatGradientBuffer gradients;
    private readonly bool[] hasGradient;
    private RankExchange? exchange;
    private int stepping;
    private bool disposed;

    /// <summary>
    /// Takes <paramref name="gradients"/> (disposed with this, or at once if this fails) and opens <paramref name="backend"/>
    /// for their device; with <paramref name="clipping"/>, makes room for clipping's norm (<see cref="Clipping"/>); with
    /// <paramref name="shardOver"/>, steps only this rank's block of each buffer (ZeRO-1, <see cref="Shards"/>).
    /// </summary>
    public GradientSteps(FlatGradientBuffer gradients, KernelBackend backend, bool skipNonFinite, bool clipping = false, ICommunicator? shardOver = null)
    {
        this.gradients = gradients;
        SkipNonFinite = skipNonFinite;
        try
        {
            Backend = FilterBackends.Resolve(backend, gradients.Device);
            Accelerator = Backend == KernelBackend.IlgpuCpu ? IlgpuAccelerator.CreateCpu() : null;
            if (Backend == KernelBackend.Cuda)
            {
                CudaContext = FilterBackends.OpenCudaContext(gradients.Device);
                DeviceSteps = new CudaStepState(CudaContext, gradients.Parameters.Count, gradients.Groups.Select(g => g.Format), clipping ? gradients.Length : 0);
            }
            if (shardOver is not null)
            {
                if (shardOver.TakesDeviceMemory || Backend == KernelBackend.Cuda)
                    throw new NotSupportedException("Sharded optimizer state is for host memory over MPI so far; CUDA buffers and NCCL are not supported yet.");
                exchange = new RankExchange(shardOver, gradients, sharded: true);
            }
            if (clipping) Clipping = new GradientClipping(ElementCount, gradients.Parameters.Count, gradients.Device);
            LibTorchThreads.EnsureBound();
        }
        catch
        {
            Dispose();
            throw;
        }
        hasGradient = new bool[gradients.Parameters.Count];
        Book = new StepBook(gradients.Parameters, gradients.Groups, DeviceSteps);
    }

    /// <summary>The backend the passes run on, resolved from the requested one and the parameters' device.</summary>
    public KernelBackend Backend { get; }

    /// <summary>ILGPU's CPU accelerator when the backend is <see cref="KernelBackend.IlgpuCpu"/>, else null.</summary>
    public IlgpuAccelerator? Accelerator { get; }

    /// <summary>The parameters' device's primary context when the backend is <see cref="KernelBackend.Cuda"/>, else null.</summary>
    public CudaPrimaryContext? CudaContext { get; }

    /// <summary>The step bookkeeping on the device when the backend is <see cref="KernelBackend.Cuda"/>, else null.</summary>
    public CudaStepState? DeviceSteps { get; }

    /// <summary>The gradient clipping when built with it, else null.</summary>
    public GradientClipping? Clipping { get; }

    /// <summary>
    /// The communicator across whose ranks each step first averages the gradients (data parallel: one collective per flat
    /// buffer, then a division by the world size, as DDP divides), or null for none. It must take the buffers' memory
    /// (host buffers for MPI); it stays the caller's to dispose.
    /// </summary>
    public ICommunicator? Communicator
    {
        get => exchange is { Shards: null } ? exchange.Ranks : null;
        set
        {
            if (value is not null)
            {
                if (Shards is not null)
                    throw new InvalidOperationException("Sharded steps average the gradients through their reduce-scatter; set no communicator beside.");
                if (value.TakesDeviceMemory != (Backend == KernelBackend.Cuda))
                    throw new ArgumentException($"The communicator takes {(value.TakesDeviceMemory ? "device" : "host")} buffers; these gradients are in {(Backend == KernelBackend.Cuda ? "device" : "host")} memory.", nameof(value));
            }
            if (Shards is not null) return;
            exchange?.Dispose();
            exchange = value is null ? null : new RankExchange(value, gradients, sharded: false);
        }
    }

    /// <summary>The counts and runs.</summary>
    public StepBook Book { get; }

    /// <summary>The flat gradient buffers.</summary>
    public FlatGradientBuffer Gradients => gradients;

    /// <summary>The buffers the passes step, one per parameter group and format: this rank's blocks when sharded.</summary>
    public IReadOnlyList<GradientGroup> Groups => Shards?.Groups ?? gradients.Groups;

    /// <summary>This rank's blocks of the buffers (ZeRO-1), or null when it steps them whole.</summary>
    public ShardLayout? Shards => exchange?.Shards;

    /// <summary>The ranks the blocks are split over, or null.</summary>
    public ICommunicator? ShardRanks => Shards is null ? null : exchange!.Ranks;

    /// <summary>Elements the passes step and keep state for: every gradient, or this rank's blocks.</summary>
    public long ElementCount => Shards?.Length ?? gradients.Length;

    /// <summary>Elements of float32 filter state (the float32 and 16-bit groups'), of <see cref="Groups"/>.</summary>
    public long Float32StateLength => Shards?.Length ?? gradients.Float32StateLength;

    /// <summary>Elements of float64 filter state (the float64 group's).</summary>
    public long Float64StateLength => Shards is null ? gradients.Float64StateLength : 0;

    /// <summary>The parameters in layout order.</summary>
    public IReadOnlyList<TrainableParameter> Parameters => gradients.Parameters;

    /// <summary>
    /// How a checkpoint reads and writes the state tensor <paramref name="tensor"/> laid out over <see cref="Groups"/> (over
    /// the groups <paramref name="covered"/>, one after another, where given): as it is, or — sharded — gathered into, and
    /// cut from, the whole buffer of the unsharded layout.
    /// </summary>
    public StateBuffer StateBufferOf(string name, Tensor tensor, IReadOnlyList<int>? covered = null) =>
        Shards is null ? new TensorStateBuffer(name, tensor) : new ShardedStateBuffer(name, tensor, Shards, exchange!.Ranks, covered);

    /// <summary>Whether a step whose gradients hold a NaN or ±Inf is skipped whole.</summary>
    public bool SkipNonFinite { get; set; }

    /// <summary>Steps taken, steps skipped, and whether the last was skipped; on CUDA, reading them waits for the queued steps.</summary>
    public (long StepCount, long SkippedStepCount, bool LastStepSkipped) Counts
    {
        get
        {
            // On CUDA the counts are read back from the device when a step was queued since, so never after disposal.
            if (Book.CountsPending) ObjectDisposedException.ThrowIf(disposed, this);
            return Book.Counts;
        }
    }

    /// <summary>
    /// One step: every parameter's gradient made its view again, the runs formed, the gradients scanned (when guarded),
    /// then every run handed to <paramref name="stepper"/> — or, on a non-finite gradient, none. One step at a time:
    /// two threads stepping at once would race on the state and the gradients.
    /// </summary>
    public void Step(IRunStepper stepper)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (Interlocked.Exchange(ref stepping, 1) != 0)
            throw new InvalidOperationException("step() was called from two threads at once; a filter or optimizer may be used by one thread at a time.");
        try
        {
            gradients.Refresh(hasGradient);
            exchange?.Exchange();
            Book.CollectRuns(hasGradient);
            if (DeviceSteps is null) StepOnHost(stepper);
            else StepOnDevice(DeviceSteps, stepper);
        }
        finally
        {
            Volatile.Write(ref stepping, 0);
        }
    }

    // The host decides: scan every run (measuring the norm when clipping), then step every run, or skip the whole step.
    // Sharded, the runs are cut to this rank's blocks and the decision is the ranks' together. Index loops: a step
    // allocates nothing (but for the collectives' own).
    private void StepOnHost(IRunStepper stepper)
    {
        IReadOnlyList<ParameterRun> runs = exchange?.Cut(Book.Runs) ?? Book.Runs;
        bool skipped = false;
        Clipping?.BeginHost();
        if (Clipping?.MaxNorm is double maxNorm)
        {
            for (int r = 0; r < runs.Count; r++) Clipping.AddRun(Groups[runs[r].Group].Format, RunAddress(runs[r]), runs[r].Length);
            double total = Clipping.LocalTotal();
            skipped = !Clipping.Finish(maxNorm, exchange?.Sum(total) ?? total) && SkipNonFinite;
        }
        else if (SkipNonFinite)
        {
            for (int r = 0; !skipped && r < runs.Count; r++) skipped = !Groups[runs[r].Group].Format.AllFinite(RunAddress(runs[r]), runs[r].Length);
            skipped = exchange?.Any(skipped) ?? skipped;
        }
        for (int r = 0; !skipped && r < runs.Count; r++) stepper.Run(runs[r]);
        Book.RecordHostStep(skipped, stepper);
    }

    /// <summary>
    /// Queues the whole step on libtorch's stream: the skip flag cleared, the scans that may set it (with clipping, the
    /// norm's, which also derive the scale), the record of
    /// the step, then per run the prepare kernel and the pass, all of which do nothing when the flag is set.
    /// </summary>
    private void StepOnDevice(CudaStepState steps, IRunStepper stepper)
    {
        steps.BeginStep();
        IReadOnlyList<ParameterRun> runs = Book.Runs;
        if (Clipping?.MaxNorm is double maxNorm)
        {
            for (int r = 0; r < runs.Count; r++) steps.NormScan(RunAddress(runs[r]), runs[r].Length, gradients.Groups[runs[r].Group].Format);
            steps.Clip(maxNorm, Clipping.NormAddress, SkipNonFinite);
        }
        else
        {
            for (int r = 0; SkipNonFinite && r < runs.Count; r++) steps.Scan(RunAddress(runs[r]), runs[r].Length, gradients.Groups[runs[r].Group].Format);
        }
        steps.Record();
        for (int slot = 0; slot < runs.Count; slot++)
        {
            ParameterRun run = runs[slot];
            stepper.Run(new DeviceRun(slot, run.First, run.End, run.Offset, run.Length), run.Group);
        }
        Book.RecordDeviceStep(hasGradient);
    }

    /// <summary>
    /// Zeroes every gradient in place, one pass per buffer; a gradient that had stopped being its view is made one
    /// again first, so it is zeroed too.
    /// </summary>
    public void ZeroGradients()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        gradients.Refresh(hasGradient);
        gradients.Zero();
    }

    /// <summary>
    /// Bytes a step moves per element: what <paramref name="passBytes"/> gives each buffer's pass, plus the guard's (or the
    /// clipping norm's) read of its gradients when <paramref name="scanned"/>, averaged over the elements and rounded.
    /// </summary>
    public int AverageBytesPerElement(Func<GradientGroup, int> passBytes, bool scanned) =>
        (int)Math.Round(gradients.Groups.Sum(g => (double)g.Length * (passBytes(g) + (scanned ? g.Format.ElementSize() : 0))) / gradients.Length);

    private nint RunAddress(ParameterRun run)
    {
        GradientGroup group = Groups[run.Group];
        return group.Address + (nint)(run.Offset * group.Format.ElementSize());
    }

    /// <summary>Frees the bookkeeping, the backend and the flat buffers; the parameters keep their gradients. Never throws.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DeviceSteps?.Dispose();
        Clipping?.Dispose();
        exchange?.Dispose();
        CudaContext?.Dispose();
        Accelerator?.Dispose();
        gradients.Dispose();
    }
}
