using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Kalman;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

public sealed class KalmanKernelTests
{
    private const int Steps = 60;
    private const float ProcessNoise = 1e-4f;
    private const float MeasurementNoise = 1e-2f;
    // Not a power of two, so lamb·x rounds: a fused multiply-add anywhere would show.
    private const float Lamb = 5f;

    [Theory]
    [InlineData(1, 1e-4f)]
    [InlineData(31, 1e-4f)]
    [InlineData(1023, 0f)]
    [InlineData((1 << 20) + 7, 1e-4f)]
    public void CpuTwin_OverManySteps_MatchesPerElementCovarianceLoopBitForBit(int length, float processNoise)
    {
        using IGradientStateKernel<KalmanConstants> kernel = KalmanKernels.CreateCpu();
        AssertMatchesScalarLoop(kernel, length, processNoise);
    }

    [Theory]
    [InlineData(1, 1e-4f)]
    [InlineData(1023, 0f)]
    [InlineData(40_009, 1e-4f)]
    public void IlgpuKernelOnCpuAccelerator_OverManySteps_MatchesPerElementCovarianceLoopBitForBit(int length, float processNoise)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        using IGradientStateKernel<KalmanConstants> kernel = KalmanKernels.CreateIlgpu(accelerator);
        AssertMatchesScalarLoop(kernel, length, processNoise);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(1031)]
    public void TwinIlgpuKernelAndScalarLoop_OnGradientsThatCancelTheirAmplification_AgreeBitForBit(int length)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        using IGradientStateKernel<KalmanConstants> twin = KalmanKernels.CreateCpu();
        using IGradientStateKernel<KalmanConstants> ilgpu = KalmanKernels.CreateIlgpu(accelerator);
        KernelHarness.AssertBitIdenticalOverSteps([twin, ilgpu], length, Steps, ConstantsFrom(ProcessNoise),
            new ScalarKalman(length, ProcessNoise, MeasurementNoise, Lamb), CancellingGradients);
    }

    [Fact]
    public void Covariance_WithZeroProcessNoise_ShrinksTowardZeroAndGainFollows()
    {
        float p = 1e-2f;
        float previousGain = float.PositiveInfinity;
        for (int step = 0; step < 100; step++)
        {
            KalmanConstants c = KalmanConstants.For(p, 0f, 1e-2f, 2.0, out p);
            Assert.True(c.Gain < previousGain, $"step {step}: gain {c.Gain} did not fall below {previousGain}");
            previousGain = c.Gain;
        }
        // With Q = 0 the filter is a running mean: K_k = 1 / (k + 2) for P0 = R.
        Assert.Equal(1f / 101f, previousGain, 1e-6f);
    }

    internal static void AssertMatchesScalarLoop(IGradientStateKernel<KalmanConstants> kernel, int length, float processNoise) =>
        KernelHarness.AssertBitIdenticalOverSteps([kernel], length, Steps, ConstantsFrom(processNoise),
            new ScalarKalman(length, processNoise, MeasurementNoise, Lamb), KernelHarness.RandomGradients);

    /// <summary>The constants of steps 0, 1, 2, … in turn, the covariance carried from one call to the next.</summary>
    internal static Func<int, KalmanConstants> ConstantsFrom(float processNoise)
    {
        float covariance = MeasurementNoise;
        return _ => KalmanConstants.For(covariance, processNoise, MeasurementNoise, Lamb, out covariance);
    }

    /// <summary>
    /// After a random first step, gradients that nearly cancel what the step adds: g + lamb·(x + K·(g − x)) ≈ 0
    /// (see EmaKernelTests.CancellingGradients).
    /// </summary>
    internal static float[] CancellingGradients(int step, KalmanConstants c, float[] estimates)
    {
        float[] g = Gradients.Random(estimates.Length, seed: step);
        if (step == 0) return g;
        for (int i = 0; i < g.Length; i++)
            g[i] = (float)(-c.Lamb * (1 - c.Gain) * estimates[i] / (1 + c.Lamb * c.Gain) * (1 + 1e-4 * g[i]));
        return g;
    }
}
