using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.WindowedMean;

namespace Grokfast.Bench.Gpu;

/// <summary>
/// Runs one fused filter on the GPU through the driver-API path, with no libtorch: device buffers of its own,
/// the same steps on the CPU twin, then timed launches and a device-to-device copy of the same bytes.
/// </summary>
internal sealed unsafe class GpuFilterCheck(CudaPrimaryContext context, long elements, int steps)
{
    private const int TimedLaunches = 50;

    /// <summary>EMA or Kalman: gradients and one float state, 16 bytes per element.</summary>
    public GpuFigures GradientState<TConstants>(IGradientStateKernel<TConstants> cuda, IGradientStateKernel<TConstants> twin, Func<int, TConstants> constants)
        where TConstants : unmanaged
    {
        using var g = new CudaDeviceMemory(context, elements);
        using var state = new CudaDeviceMemory(context, elements);
        using var hostG = new HostFloats(elements);
        using var hostState = new HostFloats(elements);
        cuda.Bind(g.Address, state.Address, elements);
        twin.Bind(hostG.Address, hostState.Address, elements);
        long mismatches = Compare(g, hostG, step =>
        {
            cuda.Filter(0, elements, constants(step));
            twin.Filter(0, elements, constants(step));
        });
        TConstants steady = constants(1);
        return Time(16, () => cuda.Filter(0, elements, steady), mismatches);
    }

    /// <summary>The windowed mean: gradients, a ring slot and a float64 sum, 32 bytes per element.</summary>
    public GpuFigures WindowedMean(int window)
    {
        using var cuda = new WindowedMeanCudaKernel(context);
        using var twin = new WindowedMeanCpuKernel();
        using var g = new CudaDeviceMemory(context, elements);
        using var ring = new CudaDeviceMemory(context, elements * window);
        using var sums = new CudaDeviceMemory(context, elements, sizeof(double));
        using var hostG = new HostFloats(elements);
        using var hostRing = new HostFloats(elements * window);
        using var hostSums = new HostFloats(2 * elements);
        cuda.Bind(g.Address, ring.Address, sums.Address, elements, window);
        twin.Bind(hostG.Address, hostRing.Address, hostSums.Address, elements, window);
        WindowedMeanConstants For(int step) => WindowedMeanConstants.For(step, window, mean: true, lamb: 5.0, warmup: true, trigger: false);
        long mismatches = Compare(g, hostG, step =>
        {
            cuda.Filter(0, elements, For(step));
            twin.Filter(0, elements, For(step));
        });
        WindowedMeanConstants steady = For(window);
        return Time(32, () => cuda.Filter(0, elements, steady), mismatches);
    }

    private long Compare(CudaDeviceMemory g, HostFloats hostG, Action<int> step)
    {
        long mismatches = 0;
        for (int s = 0; s < steps; s++)
        {
            float[] gradient = RandomGradient(seed: s);
            g.CopyFrom(gradient);
            gradient.CopyTo(hostG.Span);
            step(s);
            float[] got = g.ToArray(checked((int)elements));
            ReadOnlySpan<float> expected = hostG.Span;
            for (int i = 0; i < got.Length; i++)
            {
                // Bit for bit: the kernels and their twins compute the same IEEE operations in the same order.
                if (!got[i].Equals(expected[i])) mismatches++;
            }
        }
        return mismatches;
    }

    private GpuFigures Time(int bytesPerElement, Action launch, long mismatches)
    {
        using var timer = new CudaEventTimer(context);
        long copyBytes = elements * bytesPerElement / 2;
        using var source = new CudaDeviceMemory(context, copyBytes / sizeof(float));
        using var target = new CudaDeviceMemory(context, copyBytes / sizeof(float));
        for (int i = 0; i < 5; i++) launch();
        double fusedMs = timer.Measure(() =>
        {
            for (int i = 0; i < TimedLaunches; i++) launch();
        }) / TimedLaunches;
        double copyMs = timer.Measure(() =>
        {
            for (int i = 0; i < TimedLaunches; i++) timer.EnqueueCopy(target.Address, source.Address, copyBytes);
        }) / TimedLaunches;
        double bytes = (double)elements * bytesPerElement;
        return new GpuFigures(steps, mismatches, fusedMs, bytes / (fusedMs * 1e6), copyMs, bytes / (copyMs * 1e6));
    }

    private float[] RandomGradient(int seed)
    {
        var random = new Random(seed);
        var gradient = new float[elements];
        for (int i = 0; i < gradient.Length; i++) gradient[i] = (float)(random.NextDouble() * 2 - 1);
        return gradient;
    }
}
