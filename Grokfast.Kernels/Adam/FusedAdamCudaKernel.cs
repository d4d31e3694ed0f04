using Grokfast.Kernels.Backends.Cuda;
using ILGPU;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// Runs a fused Adam step — alone, or with the EMA or Kalman filter, whose state is one float per element — on
/// libtorch's device memory through the driver API: per run, the prepare kernel derives the filter's and Adam's
/// constants from the run's step count on the device, then one pass; two launches on libtorch's stream, no copy and
/// no synchronisation.
/// </summary>
/// <typeparam name="TConstants">The step's constants (AdamConstants, or FusedAdamConstants of the filter's).</typeparam>
/// <typeparam name="TSettings">The step's hyperparameters (AdamSettings, or FusedAdamSettings of the filter's).</typeparam>
internal sealed unsafe class FusedAdamCudaKernel<TConstants, TSettings> : IDisposable
    where TConstants : unmanaged
    where TSettings : unmanaged
{
    private readonly CudaKernelModule pass;
    private readonly CudaStepConstants<TConstants, TSettings> constants;
    private readonly bool filtered;
    private readonly bool vectorized;
    private readonly bool withMaster;
    private readonly int gradientSize;
    private nint gradients;
    private nint state;
    private nint master;
    private nint parameters;
    private nint firstMoments;
    private nint secondMoments;
    private long length = -1;

    /// <summary>
    /// Compiles <paramref name="kernel"/> and <paramref name="prepare"/> for the context's device and loads them; with
    /// <paramref name="filtered"/> the pass takes the filter's state after the gradients (g, state, p, m, v), else (g, p, m, v).
    /// </summary>
    public FusedAdamCudaKernel(CudaPrimaryContext context, CudaStepState steps, Delegate kernel,
        Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<TConstants>, TSettings> prepare, bool filtered)
        : this(context, steps, kernel, prepare, filtered, sizeof(float), withMaster: false)
    {
    }

    /// <summary>
    /// As the first constructor, for a float32 pass that loads and stores 16 bytes at a time: it takes, after the skip
    /// flag, 0 when its views all start 16-byte aligned (and may be read 16 bytes at a time), 1 when not.
    /// </summary>
    public FusedAdamCudaKernel(CudaPrimaryContext context, CudaStepState steps, Delegate kernel,
        Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<TConstants>, TSettings> prepare, bool filtered, bool vectorized)
        : this(context, steps, kernel, prepare, filtered, sizeof(float), withMaster: false)
    {
        this.vectorized = vectorized;
    }

    /// <summary>
    /// As the other constructor, for gradients and parameters of <paramref name="gradientSize"/> bytes each (16-bit ones:
    /// the kernel's views of them are of their bit patterns). A 16-bit pass takes a view of the float32 master weights before
    /// the parameters (g, [state,] master, p, m, v): with <paramref name="withMaster"/> it updates them, without it gets an
    /// empty view it never touches (see IHalfWeights).
    /// </summary>
    public FusedAdamCudaKernel(CudaPrimaryContext context, CudaStepState steps, Delegate kernel,
        Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<TConstants>, TSettings> prepare, bool filtered,
        int gradientSize, bool withMaster)
    {
        ArgumentNullException.ThrowIfNull(steps);
        this.filtered = filtered;
        this.withMaster = withMaster;
        this.gradientSize = gradientSize;
        pass = new CudaKernelModule(context, kernel);
        try
        {
            constants = new CudaStepConstants<TConstants, TSettings>(context, steps, prepare);
        }
        catch
        {
            pass.Dispose();
            throw;
        }
    }

    /// <summary>Bytes of each parameter of the pass after the thread count, as the PTX must declare them (a 16-bit pass: <paramref name="half"/>).</summary>
    internal static int[] ParameterSizes(bool filtered, bool half = false, bool vectorized = false) =>
        [.. Enumerable.Repeat(sizeof(DeviceView), 6 + (filtered ? 1 : 0) + (half ? 1 : 0)), .. vectorized ? new[] { sizeof(int) } : []];

    /// <summary>Points the kernel at its buffers of <paramref name="length"/> elements (<paramref name="state"/> 0 when unfiltered); call again whenever any moves.</summary>
    public void Bind(nint gradients, nint state, nint parameters, nint firstMoments, nint secondMoments, long length) =>
        Bind(gradients, state, 0, parameters, firstMoments, secondMoments, length);

    /// <summary>As the other overload, with the float32 master weights at <paramref name="master"/> (0 when the pass takes none).</summary>
    public void Bind(nint gradients, nint state, nint master, nint parameters, nint firstMoments, nint secondMoments, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (filtered) ArgumentOutOfRangeException.ThrowIfZero(state);
        if (withMaster) ArgumentOutOfRangeException.ThrowIfZero(master);
        this.gradients = gradients;
        this.state = state;
        this.master = master;
        this.parameters = parameters;
        this.firstMoments = firstMoments;
        this.secondMoments = secondMoments;
        this.length = length;
    }

    /// <summary>Queues the step of <paramref name="run"/> on libtorch's stream; work queued after it there sees its writes.</summary>
    public void Step(DeviceRun run, TSettings settings)
    {
        if (length < 0) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(run.Offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(run.Length, length - run.Offset);
        DeviceView slot = constants.Prepare(run, settings);
        if (run.Length == 0) return;
        DeviceView skip = constants.Skip;
        // The pass's views in its parameter order: g, [state,] [master,] p, m, v, then the step's slot and the skip flag.
        DeviceView* views = stackalloc DeviceView[8];
        int count = 0;
        views[count++] = View(gradients, run, gradientSize);
        if (filtered) views[count++] = View(state, run, sizeof(float));
        if (TakesMaster) views[count++] = withMaster ? View(master, run, sizeof(float)) : default;
        views[count++] = View(parameters, run, gradientSize);
        views[count++] = View(firstMoments, run, sizeof(float));
        views[count++] = View(secondMoments, run, sizeof(float));
        views[count++] = slot;
        views[count++] = skip;
        nint* arguments = stackalloc nint[count + 1];
        for (int i = 0; i < count; i++) arguments[i] = (nint)(views + i);
        int unaligned = 0;
        if (vectorized)
        {
            unaligned = Unaligned(run) ? 1 : 0;
            arguments[count++] = (nint)(&unaligned);
        }
        pass.Launch(run.Length, new ReadOnlySpan<nint>(arguments, count));
    }

    /// <summary>Unloads both kernels and frees the constants' slots. Never throws.</summary>
    public void Dispose()
    {
        pass.Dispose();
        constants.Dispose();
    }

    // A 16-bit pass takes a master-weights view whether or not there are master weights.
    private bool TakesMaster => gradientSize != sizeof(float);

    // Whether any of the run's views starts off a 16-byte boundary: libtorch's allocations are aligned, so in a normal
    // loop (one run from offset 0) none does.
    private bool Unaligned(DeviceRun run) =>
        ((gradients | state | parameters | firstMoments | secondMoments) & 15) != 0 || run.Offset % 4 != 0;

    private static DeviceView View(nint buffer, DeviceRun run, int elementSize) => new(buffer + (nint)(run.Offset * elementSize), run.Length);
}
