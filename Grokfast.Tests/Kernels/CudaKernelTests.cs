using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The driver-API path on a GPU: each ILGPU kernel, loaded into the device's primary context with its prepare kernel
/// deriving the step's constants on the device, against its CPU twin (constants from the host) over many steps of
/// fresh gradients on multi-million-element buffers, bit for bit; and the non-finite scan. Skipped without a GPU.
/// </summary>
[Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
public sealed class CudaKernelTests
{
    private const int Length = 3_000_017;
    private const int Steps = 20;
    private static readonly DeviceRun Whole = new(0, 0, 1, 0, Length);

    [CudaFact]
    public void EmaOnCuda_OverManySteps_MatchesTheCpuTwin()
    {
        EmaSettings settings = EmaSettings.From(0.98, 5.0);
        AssertMatchesCpuTwin(EmaKernels.CreateCuda, settings, EmaKernels.CreateCpu(), step => settings.At(step), EmaKernelTests.CancellingGradients, covariance: 0);
    }

    [CudaFact]
    public void KalmanOnCuda_OverManySteps_MatchesTheCpuTwin()
    {
        KalmanSettings settings = KalmanSettings.From(1e-4, 1e-2, 5.0);
        var constants = new KalmanConstants[Steps];
        Func<int, KalmanConstants> next = KalmanKernelTests.ConstantsFrom(settings.ProcessNoise);
        for (int step = 0; step < Steps; step++) constants[step] = next(step);

        AssertMatchesCpuTwin(KalmanKernels.CreateCuda, settings, KalmanKernels.CreateCpu(), step => constants[step], KalmanKernelTests.CancellingGradients,
            covariance: settings.MeasurementNoise);
    }

    [CudaFact]
    public void WindowedMeanOnCuda_OverMoreStepsThanTheWindow_MatchesTheCpuTwin()
    {
        const int window = 7;
        WindowedMeanSettings settings = WindowedMeanSettings.From(window, mean: true, lamb: 5.0, warmup: true, trigger: false);
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using var steps = new CudaStepState(context, 1);
        using var cuda = new WindowedMeanCudaKernel(context, steps);
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

            steps.BeginStep();
            cuda.Filter(Whole, settings);
            twin.Filter(0, Length, settings.At(step));

            FloatAssert.Close(twinG.Span, g.ToArray(Length), 0, 0, $"step {step}: ");
        }
        Assert.Equal(twinSums.Span.ToArray(), sums.ToArray(2 * Length));
    }

    [CudaFact]
    public void FiniteScanOnCuda_FindsNaNAndInfinitiesAnywhere_AndCountsTheSkippedSteps()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using var steps = new CudaStepState(context, 1);
        using var data = new CudaDeviceMemory(context, Length);
        float[] values = Gradients.Random(Length, seed: 3);
        data.CopyFrom(values);
        steps.BeginStep();
        steps.Scan(data.Address, Length);
        steps.Record();
        Assert.Equal((0, false), steps.ReadOutcome());

        int skipped = 0;
        foreach (float poison in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            foreach (int position in new[] { 0, Length / 2, Length - 1 })
            {
                float[] poisoned = (float[])values.Clone();
                poisoned[position] = poison;
                data.CopyFrom(poisoned);
                steps.BeginStep();
                steps.Scan(data.Address, Length);
                steps.Record();
                Assert.Equal((++skipped, true), steps.ReadOutcome());
            }
        }
    }

    [CudaFact]
    public void SkippedStepOnCuda_LeavesGradientsStateAndCountsUntouched()
    {
        EmaSettings settings = EmaSettings.From(0.98, 5.0);
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using var steps = new CudaStepState(context, 1);
        using var cuda = EmaKernels.CreateCuda(context, steps);
        using var g = new CudaDeviceMemory(context, Length);
        using var state = new CudaDeviceMemory(context, Length);
        cuda.Bind(g.Address, state.Address, Length);
        float[] gradient = Gradients.Random(Length, seed: 1);
        g.CopyFrom(gradient);
        steps.BeginStep();
        cuda.Filter(Whole, settings);
        float[] stateBefore = state.ToArray(Length);
        gradient[Length / 3] = float.NaN;
        g.CopyFrom(gradient);

        steps.BeginStep();
        steps.Scan(g.Address, Length);
        steps.Record();
        cuda.Filter(Whole, settings);

        Assert.Equal(gradient, g.ToArray(Length));
        Assert.Equal(stateBefore, state.ToArray(Length));
        long[] counts = new long[1];
        steps.ReadSteps(counts);
        Assert.Equal(1, counts[0]);
    }

    private static void AssertMatchesCpuTwin<TConstants, TSettings>(Func<CudaPrimaryContext, CudaStepState, GradientStateCudaKernel<TConstants, TSettings>> createCuda,
        TSettings settings, IGradientStateKernel<TConstants> twin, Func<int, TConstants> constants, Func<int, TConstants, float[], float[]> gradients, float covariance)
        where TConstants : unmanaged
        where TSettings : unmanaged
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using var steps = new CudaStepState(context, 1);
        steps.WriteCovariances([covariance]);
        using GradientStateCudaKernel<TConstants, TSettings> cuda = createCuda(context, steps);
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

                steps.BeginStep();
                cuda.Filter(Whole, settings);
                twin.Filter(0, Length, constants(step));

                FloatAssert.Close(twinG.Span, g.ToArray(Length), 0, 0, $"step {step}, gradients: ");
                FloatAssert.Close(twinState.Span, state.ToArray(Length), 0, 0, $"step {step}, state: ");
            }
        }
    }
}
