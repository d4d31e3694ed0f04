namespace Grokfast.Kernels.WindowedMean;

/// <summary>
/// Runs <see cref="WindowedMeanKernels"/>' ILGPU kernel, compiled once, as one grid-stride launch per step. The host
/// decides each step here: the constants go through a one-element buffer and the skip flag stays 0.
/// </summary>
public sealed class WindowedMeanIlgpuKernel : IWindowedMeanKernel
{
    private readonly WindowedMeanIlgpuRunner<float> runner;

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>; the accelerator stays the caller's.</summary>
    public WindowedMeanIlgpuKernel(Backends.IlgpuAccelerator accelerator)
    {
        runner = new WindowedMeanIlgpuRunner<float>(accelerator, WindowedMeanKernels.Kernel);
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint ring, nint sums, long length, int windowSize) => runner.Bind(gradients, ring, sums, length, windowSize);

    /// <inheritdoc />
    public void Filter(long offset, long length, WindowedMeanConstants constants) => runner.Filter(offset, length, constants);

    /// <inheritdoc />
    public void Dispose() => runner.Dispose();
}
