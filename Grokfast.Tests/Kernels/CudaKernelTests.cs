using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The driver-API path on a GPU: each ILGPU kernel, loaded into the device's primary context, against its CPU
/// twin over many steps of fresh gradients on multi-million-element buffers, bit for bit. Skipped without a GPU.
/// </summary>
[Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
public sealed class CudaKernelTests
{
    private const int Length = 3_000_017;
    private const int Steps = 20;

    [CudaFact]
    public void EmaOnCuda_OverManySteps_MatchesTheCpuTwin()
    {
        AssertMatchesCpuTwin(EmaKernels.CreateCuda, EmaKernels.CreateCpu(), EmaKernelTests.Constants, EmaKernelTests.CancellingGradients);
    }

    [CudaFact]
    public void KalmanOnCuda_OverManySteps_MatchesTheCpuTwin()
    {
        var constants = new KalmanConstants[Steps];
        Func<int, KalmanConstants> next = KalmanKernelTests.ConstantsFrom(processNoise: 1e-4f);
        for (int step = 0; step < Steps; step++) constants[step] = next(step);

        AssertMatchesCpuTwin(KalmanKernels.CreateCuda, KalmanKernels.CreateCpu(), step => constants[step], KalmanKernelTests.CancellingGradients);
    }

    [CudaFact]
    public void WindowedMeanOnCuda_OverMoreStepsThanTheWindow_MatchesTheCpuTwin()
    {
        const int window = 7;
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using var cuda = new WindowedMeanCudaKernel(context);
        using var g = new CudaDeviceMemory(context, Length);
        using var ring = new CudaDeviceMemory(context, (long)Length * window);
        using var sums = new CudaDeviceMemory(context, Length, sizeof(double));
        cuda.Bind(g.Address, ring.Address, sums.Address, Length, window);
        using var twin = new WindowedMeanCpuKernel();
        using var twinG = new NativeFloats(Length);
        using var twinRing = new NativeFloats(Length * window);
        using var twinSums = new NativeFloats(2 * Length);
        twin.Bind(twinG.Address, twinRing.Address, twinSums.Address, Length, window);

        for (int step = 0; step < Steps; step++)
        {
            float[] gradient = Gradients.Random(Length, seed: step);
            g.CopyFrom(gradient);
            gradient.CopyTo(twinG.Span);
            WindowedMeanConstants constants = WindowedMeanConstants.For(step, window, mean: true, lamb: 5.0, warmup: true, trigger: false);

            cuda.Filter(0, Length, constants);
            twin.Filter(0, Length, constants);

            FloatAssert.Close(twinG.Span, g.ToArray(Length), 0, 0, $"step {step}: ");
        }
        Assert.Equal(twinSums.Span.ToArray(), sums.ToArray(2 * Length));
    }

    [CudaFact]
    public void FiniteScanOnCuda_FindsNaNAndInfinitiesAnywhere()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using var scan = new CudaFiniteScan(context);
        using var data = new CudaDeviceMemory(context, Length);
        float[] values = Gradients.Random(Length, seed: 3);
        data.CopyFrom(values);
        scan.Reset();
        scan.Scan(data.Address, Length);
        Assert.True(scan.AllFinite());

        foreach (float poison in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            foreach (int position in new[] { 0, Length / 2, Length - 1 })
            {
                float[] poisoned = (float[])values.Clone();
                poisoned[position] = poison;
                data.CopyFrom(poisoned);
                scan.Reset();
                scan.Scan(data.Address, Length);
                Assert.False(scan.AllFinite(), $"{poison} at {position} was not found");
            }
        }
    }

    private static void AssertMatchesCpuTwin<TConstants>(Func<CudaPrimaryContext, IGradientStateKernel<TConstants>> createCuda,
        IGradientStateKernel<TConstants> twin, Func<int, TConstants> constants, Func<int, TConstants, float[], float[]> gradients)
        where TConstants : unmanaged
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using IGradientStateKernel<TConstants> cuda = createCuda(context);
        using var g = new CudaDeviceMemory(context, Length);
        using var state = new CudaDeviceMemory(context, Length);
        cuda.Bind(g.Address, state.Address, Length);
        using (twin)
        using (var twinG = new NativeFloats(Length))
        using (var twinState = new NativeFloats(Length))
        {
            twin.Bind(twinG.Address, twinState.Address, Length);
            for (int step = 0; step < Steps; step++)
            {
                float[] gradient = gradients(step, constants(step), twinState.Span.ToArray());
                g.CopyFrom(gradient);
                gradient.CopyTo(twinG.Span);

                cuda.Filter(0, Length, constants(step));
                twin.Filter(0, Length, constants(step));

                FloatAssert.Close(twinG.Span, g.ToArray(Length), 0, 0, $"step {step}, gradients: ");
                FloatAssert.Close(twinState.Span, state.ToArray(Length), 0, 0, $"step {step}, state: ");
            }
        }
    }
}
