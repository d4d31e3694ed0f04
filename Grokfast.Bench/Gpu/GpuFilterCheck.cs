using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Engine;

namespace Grokfast.Bench.Gpu;

/// <summary>
/// Runs one fused filter on the GPU through the driver-API path, with no libtorch: device buffers of its own,
/// the same steps on the CPU twin, then timed launches and a device-to-device copy of the same bytes.
/// </summary>
internal sealed unsafe class GpuFilterCheck(CudaPrimaryContext context, long elements, int steps)
{
    /// <summary>
    /// One filter on gradients and its state (<paramref name="slots"/> estimate slots, and float64 sums where it keeps
    /// them): the CUDA pass derives each step's constants on the device from its step count and covariance (P before the
    /// first step is <paramref name="covariance"/>); the twin gets them from the host, by the same settings. Timed with
    /// <paramref name="timed"/>, whose every step moves the pass's full bytes (the windowed mean without warm-up): as a
    /// filter steps by default, guarded (the flag cleared, the non-finite scan's read of the gradients, the step's record,
    /// then the pass; 4 bytes more per element), and the pass alone.
    /// </summary>
    public (GpuFigures Guarded, GpuFigures Unguarded) Filter<TSettings, TFilter>(TSettings settings, TSettings timed, int slots, float covariance = 0)
        where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        using var stepState = new CudaStepState(context, 1);
        stepState.WriteCovariances([covariance]);
        using var g = new CudaDeviceMemory(context, elements);
        using var estimates = new CudaDeviceMemory(context, elements * slots);
        using var sums = new CudaDeviceMemory(context, elements, sizeof(double));
        using var hostG = new HostFloats(elements);
        using var hostEstimates = new HostFloats(elements * slots);
        using var hostSums = new HostFloats(2 * elements);
        bool keepsSum = TFilter.KeepsSum;
        using ICudaPass<TSettings> cuda = Passes.CreateCuda<TSettings, TFilter>(context, stepState, GradientFormat.Float32, PassUpdate.WriteBack,
            PassBuffers.Filter(g.Address, estimates.Address, keepsSum ? sums.Address : 0, elements, slots));
        using IHostPass<TFilter> twin = Passes.CreateHost<TFilter>(null, GradientFormat.Float32, PassUpdate.WriteBack,
            PassBuffers.Filter(hostG.Address, hostEstimates.Address, keepsSum ? hostSums.Address : 0, elements, slots));
        var run = new DeviceRun(0, 0, 1, 0, elements);
        long mismatches = Compare(g, hostG, step =>
        {
            stepState.BeginStep();
            cuda.Run(run, new PassSettings<TSettings>(settings, default));
            twin.Run(0, elements, new PassConstants<TFilter>(TSettings.At(settings, step, covariance), default));
            covariance = TSettings.NextCovariance(settings, covariance);
        });
        int bytes = Passes.BytesPerElement<TFilter>(GradientFormat.Float32, PassUpdate.WriteBack);
        GpuFigures guarded = GpuStepTiming.Measure(context, elements, bytes + sizeof(float), () =>
        {
            stepState.BeginStep();
            stepState.Scan(g.Address, elements);
            stepState.Record();
            cuda.Run(run, new PassSettings<TSettings>(timed, default));
        }, steps, mismatches);
        GpuFigures unguarded = GpuStepTiming.Measure(context, elements, bytes, () => cuda.Run(run, new PassSettings<TSettings>(timed, default)), steps, mismatches);
        return (guarded, unguarded);
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
