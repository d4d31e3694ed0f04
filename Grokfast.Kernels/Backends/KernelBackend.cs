namespace Grokfast.Kernels.Backends;

/// <summary>Where a filter's fused pass runs.</summary>
public enum KernelBackend
{
    /// <summary>CUDA for gradients in GPU memory, the vectorised CPU twin for gradients in host memory.</summary>
    Auto,

    /// <summary>The hand-vectorised, multi-threaded C# twin of each kernel: the fast CPU path.</summary>
    Cpu,

    /// <summary>The ILGPU kernel on a CUDA device.</summary>
    Cuda,

    /// <summary>
    /// The ILGPU kernel on ILGPU's CPU accelerator, which emulates GPU threads: the exact code that runs
    /// on CUDA, for testing without a GPU. Slow; never a default.
    /// </summary>
    IlgpuCpu,
}
