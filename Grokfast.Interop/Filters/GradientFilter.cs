using Grokfast.Bridge;
using Grokfast.Kernels.Backends;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Filters;

/// <summary>
/// What every Grokfast filter shares: the flat gradient buffer, the choice of backend, the per-step
/// bookkeeping and deterministic disposal. Call <see cref="step"/> between <c>loss.backward()</c> and
/// <c>optimizer.step()</c>.
/// </summary>
public abstract class GradientFilter : IDisposable
{
    private readonly FlatGradientBuffer gradients;
    private readonly bool[] hasGradient;
    private readonly long[] stepsFiltered;
    private bool disposed;

    /// <summary>ILGPU's CPU accelerator when the backend is <see cref="KernelBackend.IlgpuCpu"/>, else null.</summary>
    private protected IlgpuAccelerator? Accelerator { get; }

    /// <summary>Builds the flat gradient buffer for the trainable parameters of <paramref name="module"/>.</summary>
    private protected GradientFilter(Module module, KernelBackend backend)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (!Enum.IsDefined(backend))
            throw new ArgumentOutOfRangeException(nameof(backend), backend, "Unknown backend.");
        gradients = new FlatGradientBuffer(module);
        Backend = ResolveBackend(backend, gradients.Device);
        Accelerator = Backend == KernelBackend.IlgpuCpu ? IlgpuAccelerator.CreateCpu() : null;
        hasGradient = new bool[gradients.Parameters.Count];
        stepsFiltered = new long[gradients.Parameters.Count];
    }

    /// <summary>The backend the fused pass runs on, resolved from the requested one and the parameters' device.</summary>
    public KernelBackend Backend { get; }

    /// <summary>Trainable parameters (elements) the filter covers.</summary>
    public long ElementCount => gradients.Length;

    /// <summary>Trainable parameters (tensors) the filter covers.</summary>
    public int ParameterCount => gradients.Parameters.Count;

    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>Parameters that had no gradient in the last step; their state was left unchanged.</summary>
    public int SkippedParameterCount { get; private set; }

    /// <summary>Gradients copied into the flat buffer because they had stopped being its views; stays put in a zero-copy loop.</summary>
    public long GradientCopies => gradients.GradientCopies;

    /// <summary>The flat buffer's tensor, for the filter kinds that allocate state beside it.</summary>
    private protected Tensor FlatGradients => gradients.Tensor;

    /// <summary>Address of the flat buffer's first element, for binding kernels.</summary>
    private protected nint FlatGradientsAddress => gradients.Address;

    /// <summary>
    /// Filters every parameter's gradient in place, in one fused pass over the flat buffer. Parameters
    /// with no gradient this step are left out and keep their state.
    /// </summary>
    public void step()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        gradients.Refresh(hasGradient);
        IReadOnlyList<TrainableParameter> parameters = gradients.Parameters;
        int skipped = 0;
        // Launch once per run of consecutive parameters that have a gradient and have been filtered equally
        // often (so share one set of step constants): one launch for the whole model in a normal loop.
        for (int first = 0; first < parameters.Count;)
        {
            if (!hasGradient[first])
            {
                skipped++;
                first++;
                continue;
            }
            int end = first + 1;
            while (end < parameters.Count && hasGradient[end] && stepsFiltered[end] == stepsFiltered[first]) end++;
            long offset = parameters[first].Offset;
            long length = parameters[end - 1].Offset + parameters[end - 1].Length - offset;
            FilterRun(new ParameterRun(first, end, offset, length, stepsFiltered[first]));
            for (int i = first; i < end; i++) stepsFiltered[i]++;
            first = end;
        }
        SkippedParameterCount = skipped;
        StepCount++;
    }

    /// <summary>Runs the fused pass over one run of parameters that share their step count.</summary>
    private protected abstract void FilterRun(ParameterRun run);

    /// <summary>Frees the filter's state and kernels; the parameters keep their gradients.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        DisposeState();
        Accelerator?.Dispose();
        gradients.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees what the filter kind allocated.</summary>
    private protected abstract void DisposeState();

    /// <summary>Throws if this filter has been disposed.</summary>
    private protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    private static KernelBackend ResolveBackend(KernelBackend backend, Device device)
    {
        bool onCpu = device.type == DeviceType.CPU;
        return backend switch
        {
            KernelBackend.Auto when onCpu => KernelBackend.Cpu,
            KernelBackend.Cpu or KernelBackend.IlgpuCpu when onCpu => backend,
            KernelBackend.Cpu or KernelBackend.IlgpuCpu => throw new ArgumentException(
                $"Backend {backend} filters host memory, but the parameters are on {device}.", nameof(backend)),
            _ => throw new NotSupportedException(
                $"The parameters are on {device} and backend {backend} was requested: this release filters CPU tensors only (backends Cpu and IlgpuCpu)."),
        };
    }
}
