using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Kalman;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

public sealed class KalmanKernelTests
{
    private const int Steps = 60;

    [Theory]
    [InlineData(1, 1e-4f)]
    [InlineData(31, 1e-4f)]
    [InlineData(1023, 0f)]
    [InlineData((1 << 20) + 7, 1e-4f)]
    public void CpuTwin_OverManySteps_MatchesPerElementCovarianceLoop(int length, float processNoise)
    {
        using IGradientStateKernel<KalmanConstants> kernel = KalmanKernels.CreateCpu();
        AssertMatchesScalarLoop(kernel, length, processNoise);
    }

    [Theory]
    [InlineData(1, 1e-4f)]
    [InlineData(1023, 0f)]
    [InlineData(40_009, 1e-4f)]
    public void IlgpuKernelOnCpuAccelerator_OverManySteps_MatchesPerElementCovarianceLoop(int length, float processNoise)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        using IGradientStateKernel<KalmanConstants> kernel = KalmanKernels.CreateIlgpu(accelerator);
        AssertMatchesScalarLoop(kernel, length, processNoise);
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

    internal static void AssertMatchesScalarLoop(IGradientStateKernel<KalmanConstants> kernel, int length, float processNoise)
    {
        const float measurementNoise = 1e-2f;
        const float lamb = 2f;
        var oracle = new ScalarKalman(length, processNoise, measurementNoise, lamb);
        float covariance = measurementNoise;
        KernelHarness.AssertMatchesOverSteps(kernel, length, Steps,
            _ => KalmanConstants.For(covariance, processNoise, measurementNoise, lamb, out covariance), oracle.Step, rtol: 1e-6);
    }
}
