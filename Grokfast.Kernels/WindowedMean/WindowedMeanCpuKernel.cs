namespace Grokfast.Kernels.WindowedMean;

/// <summary>Runs <see cref="WindowedMeanKernels"/>' vectorised twin over float32 gradients in host memory, split over cores.</summary>
public sealed unsafe class WindowedMeanCpuKernel : IWindowedMeanKernel
{
    private readonly WindowedMeanCpuRunner<float> runner = new(&WindowedMeanKernels.FilterRange);

    /// <inheritdoc />
    public void Bind(nint gradients, nint ring, nint sums, long length, int windowSize) => runner.Bind(gradients, ring, sums, length, windowSize);

    /// <inheritdoc />
    public void Filter(long offset, long length, WindowedMeanConstants constants) => runner.Filter(offset, length, constants);

    /// <inheritdoc />
    public void Dispose() => runner.Dispose();
}
