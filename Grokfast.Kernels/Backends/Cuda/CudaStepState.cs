namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// A CUDA filter's step bookkeeping, kept on the device so that a step never waits for the GPU: the skip flag the
/// non-finite scan sets and every kernel of the step reads, the count of skipped steps, and each parameter's steps
/// filtered, (for the Kalman filter) covariance and (in a fused optimizer) steps updated, from which the prepare kernels
/// derive each step's constants; and, for fused clipping, the gradients' norm summed on the device (<see cref="GradientNorm"/>)
/// and the scale the Adam passes apply.
/// The host reads them back only when asked (a step count, a checkpoint), and writes them when a checkpoint loads.
/// </summary>
public sealed unsafe class CudaStepState : IDisposable
{
    private readonly Dictionary<GradientFormat, CudaKernelModule> scans = [];
    private readonly CudaKernelModule record;
    private readonly CudaDeviceMemory skip;
    private readonly CudaDeviceMemory outcome;
    private readonly CudaDeviceMemory steps;
    private readonly CudaDeviceMemory covariances;
    private readonly CudaDeviceMemory updates;
    private readonly CudaClipping? clipping;
    private readonly OwnedResources owned = new();
    private bool clippedThisStep;

    /// <summary>Loads the scan and record kernels and allocates the bookkeeping, zeroed, for <paramref name="parameters"/> parameters.</summary>
    public CudaStepState(CudaPrimaryContext context, int parameters)
        : this(context, parameters, [GradientFormat.Float32])
    {
    }

    /// <summary>
    /// As the public constructor, with a scan kernel for the gradients of each of <paramref name="formats"/>, and, when
    /// <paramref name="clippedElements"/> is positive, the kernels and scratch to clip that many gradient elements.
    /// </summary>
    internal CudaStepState(CudaPrimaryContext context, int parameters, IEnumerable<GradientFormat> formats, long clippedElements = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameters);
        Parameters = parameters;
        try
        {
            foreach (GradientFormat format in formats.Distinct()) scans[format] = owned.Own(new CudaKernelModule(context, format.ScanKernel()));
            record = owned.Own(new CudaKernelModule(context, FiniteScan.Record));
            skip = owned.Own(new CudaDeviceMemory(context, 1, sizeof(int)));
            outcome = owned.Own(new CudaDeviceMemory(context, 2, sizeof(long)));
            steps = owned.Own(new CudaDeviceMemory(context, parameters, sizeof(long)));
            covariances = owned.Own(new CudaDeviceMemory(context, parameters, sizeof(float)));
            updates = owned.Own(new CudaDeviceMemory(context, parameters, sizeof(long)));
            if (clippedElements > 0) clipping = owned.Own(new CudaClipping(context, formats, clippedElements, parameters));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Parameters it keeps counts for.</summary>
    public int Parameters { get; }

    /// <summary>The flag every kernel of a step reads: nonzero when the step found a NaN or ±Inf.</summary>
    internal nint SkipFlag => skip.Address;

    /// <summary>Views of the steps filtered, covariances and steps updated of parameters [<paramref name="first"/>, <paramref name="end"/>).</summary>
    internal (DeviceView Steps, DeviceView Covariances, DeviceView Updates) Run(int first, int end) =>
        (new DeviceView(steps.Address + first * sizeof(long), end - first), new DeviceView(covariances.Address + first * sizeof(float), end - first),
            new DeviceView(updates.Address + first * sizeof(long), end - first));

    /// <summary>The scale the Adam passes of this step apply (<c>scale[0]</c>), or an empty view (1) when the step is not clipped.</summary>
    internal DeviceView GradientScale => clippedThisStep ? clipping!.Scale : default;

    /// <summary>Queues the start of a step: the skip flag cleared.</summary>
    public void BeginStep()
    {
        skip.ZeroAsync(1);
        clipping?.Begin();
        clippedThisStep = false;
    }

    /// <summary>Queues the norm's lane sums of the <paramref name="length"/> gradients of <paramref name="format"/> at <paramref name="data"/>, the step's next run.</summary>
    internal void NormScan(nint data, long length, GradientFormat format)
    {
        if (clipping is null) throw new InvalidOperationException("This step state was built without clipping.");
        clipping.Scan(data, length, format);
    }

    /// <summary>
    /// Queues the end of the norm: the norm (a double) written to <paramref name="norm"/> on the device, the scale the
    /// Adam passes apply, and — when <paramref name="guard"/> — the skip flag set on a NaN or ±Inf gradient.
    /// </summary>
    internal void Clip(double maxNorm, nint norm, bool guard)
    {
        if (clipping is null) throw new InvalidOperationException("This step state was built without clipping.");
        clipping.Finish(maxNorm, norm, guard, new DeviceView(skip.Address, 1));
        clippedThisStep = true;
    }

    /// <summary>Queues a scan of <paramref name="length"/> floats at <paramref name="data"/> that sets the skip flag on a NaN or ±Inf.</summary>
    public void Scan(nint data, long length) => Scan(data, length, GradientFormat.Float32);

    /// <summary>As <see cref="Scan(nint, long)"/>, for gradients of <paramref name="format"/> (one the constructor was given).</summary>
    internal void Scan(nint data, long length, GradientFormat format)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0) return;
        var view = new DeviceView(data, length);
        var found = new DeviceView(skip.Address, 1);
        scans[format].Launch(length, KernelArgument.Of(&view), KernelArgument.Of(&found));
    }

    /// <summary>Queues the record of the step: one more skipped step counted if the flag is set, and whether it was.</summary>
    public void Record()
    {
        var flag = new DeviceView(skip.Address, 1);
        var counts = new DeviceView(outcome.Address, 2);
        record.Launch(1, KernelArgument.Of(&flag), KernelArgument.Of(&counts));
    }

    /// <summary>Waits for the queued work, then reads the steps skipped so far and whether the last one was.</summary>
    public (long Skipped, bool LastSkipped) ReadOutcome()
    {
        Span<long> counts = stackalloc long[2];
        outcome.Read(counts);
        return (counts[0], counts[1] != 0);
    }

    /// <summary>Sets the steps skipped so far, and the last step as not skipped (a checkpoint loaded).</summary>
    public void WriteOutcome(long skipped) => outcome.Write<long>([skipped, 0]);

    /// <summary>Waits for the queued work, then reads every parameter's steps filtered.</summary>
    public void ReadSteps(Span<long> destination) => steps.Read(destination[..Parameters]);

    /// <summary>Sets every parameter's steps filtered.</summary>
    public void WriteSteps(ReadOnlySpan<long> source) => steps.Write(source[..Parameters]);

    /// <summary>Waits for the queued work, then reads every parameter's steps updated (a fused optimizer's).</summary>
    public void ReadUpdates(Span<long> destination) => updates.Read(destination[..Parameters]);

    /// <summary>Sets every parameter's steps updated.</summary>
    public void WriteUpdates(ReadOnlySpan<long> source) => updates.Write(source[..Parameters]);

    /// <summary>Waits for the queued work, then reads every parameter's covariance.</summary>
    public void ReadCovariances(Span<float> destination) => covariances.Read(destination[..Parameters]);

    /// <summary>Sets every parameter's covariance.</summary>
    public void WriteCovariances(ReadOnlySpan<float> source) => covariances.Write(source[..Parameters]);

    /// <summary>Unloads the kernels and frees the memory. Never throws.</summary>
    public void Dispose() => owned.Dispose();
}
