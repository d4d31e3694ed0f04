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
    /// <summary>
    /// EMA or Kalman: gradients and one float state, <paramref name="bytesPerElement"/> (16) per element. The CUDA kernel derives each step's
    /// constants on the device from its step count (and <paramref name="covariance"/>, the Kalman filter's P before
    /// the first step); the twin gets them from the host.
    /// </summary>
    public GpuFigures GradientState<TConstants, TSettings>(Func<CudaStepState, GradientStateCudaKernel<TConstants, TSettings>> createCuda,
        IGradientStateKernel<TConstants> twin, Func<int, TConstants> constants, TSettings settings, int bytesPerElement, float covariance = 0)
        where TConstants : unmanaged
        where TSettings : unmanaged
    {
        using var stepState = new CudaStepState(context, 1);
        stepState.WriteCovariances([covariance]);
        using GradientStateCudaKernel<TConstants, TSettings> cuda = createCuda(stepState);
        using var g = new CudaDeviceMemory(context, elements);
        using var state = new CudaDeviceMemory(context, elements);
        using var hostG = new HostFloats(elements);
        using var hostState = new HostFloats(elements);
        cuda.Bind(g.Address, state.Address, elements);
        twin.Bind(hostG.Address, hostState.Address, elements);
        var run = new DeviceRun(0, 0, 1, 0, elements);
        long mismatches = Compare(g, hostG, step =>
        {
            stepState.BeginStep();
            cuda.Filter(run, settings);
            twin.Filter(0, elements, constants(step));
        });
        return GpuStepTiming.Measure(context, elements, bytesPerElement, () => cuda.Filter(run, settings), steps, mismatches);
    }

    /// <summary>The windowed mean: gradients, a ring slot and a float64 sum (<see cref="WindowedMeanKernels.BytesPerElement"/>).</summary>
    public GpuFigures WindowedMean(int window)
    {
        using var stepState = new CudaStepState(context, 1);
        using var cuda = new WindowedMeanCudaKernel(context, stepState);
        using var twin = new WindowedMeanCpuKernel();
        using var g = new CudaDeviceMemory(context, elements);
        using var ring = new CudaDeviceMemory(context, elements * window);
        using var sums = new CudaDeviceMemory(context, elements, sizeof(double));
        using var hostG = new HostFloats(elements);
        using var hostRing = new HostFloats(elements * window);
        using var hostSums = new HostFloats(2 * elements);
        cuda.Bind(g.Address, ring.Address, sums.Address, elements, window);
        twin.Bind(hostG.Address, hostRing.Address, hostSums.Address, elements, window);
        WindowedMeanSettings settings = WindowedMeanSettings.From(window, mean: true, lamb: 5.0, warmup: true, trigger: false);
        var run = new DeviceRun(0, 0, 1, 0, elements);
        long mismatches = Compare(g, hostG, step =>
        {
            stepState.BeginStep();
            cuda.Filter(run, settings);
            twin.Filter(0, elements, settings.At(step));
        });
        // Timed with every step applying (no warm-up), so each one moves all 32 bytes.
        WindowedMeanSettings applying = settings with { Warmup = 0 };
        return GpuStepTiming.Measure(context, elements, WindowedMeanKernels.BytesPerElement, () => cuda.Filter(run, applying), steps, mismatches);
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

    private float[] RandomGradient(int seed)
    {
        var random = new Random(seed);
        var gradient = new float[elements];
        for (int i = 0; i < gradient.Length; i++) gradient[i] = (float)(random.NextDouble() * 2 - 1);
        return gradient;
    }
}
