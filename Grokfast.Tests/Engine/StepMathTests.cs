using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Kalman;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Engine;

/// <summary>What the matrix does not pin down: a first step's exact result, a run's bounds, and the step constants' own math.</summary>
public sealed class StepMathTests
{
    [Theory]
    [InlineData(KernelBackend.Cpu)]
    [InlineData(KernelBackend.IlgpuCpu)]
    public void EmaFirstStep_ReturnsGradientTimesOnePlusLamb(KernelBackend backend)
    {
        using IlgpuAccelerator? accelerator = backend == KernelBackend.IlgpuCpu ? IlgpuAccelerator.CreateCpu() : null;
        using var g = new NativeFloats(3);
        using var average = new NativeFloats(3);
        float[] values = [1f, -2f, 0.5f];
        values.CopyTo(g.Span);
        using IHostPass<EmaConstants> pass = Ema(accelerator, g, average);

        pass.Run(0, 3, new PassConstants<EmaConstants>(EmaConstants.For(0.5, 5.0, firstStep: true), default));

        Assert.Equal(values.Select(v => v * 6f), g.Span.ToArray());
        Assert.Equal(values, average.Span.ToArray());
    }

    [Theory]
    [InlineData(KernelBackend.Cpu)]
    [InlineData(KernelBackend.IlgpuCpu)]
    public void Run_OfASubRange_LeavesTheRestUntouched(KernelBackend backend)
    {
        using IlgpuAccelerator? accelerator = backend == KernelBackend.IlgpuCpu ? IlgpuAccelerator.CreateCpu() : null;
        const int length = 100;
        using var g = new NativeFloats(length);
        using var average = new NativeFloats(length);
        float[] before = Gradients.Random(length, seed: 7);
        before.CopyTo(g.Span);
        average.Span.Fill(-1f);
        using IHostPass<EmaConstants> pass = Ema(accelerator, g, average);

        pass.Run(10, 50, new PassConstants<EmaConstants>(EmaConstants.For(0.5, 5.0, firstStep: true), default));

        Assert.Equal(before[..10], g.Span[..10].ToArray());
        Assert.Equal(before[60..], g.Span[60..].ToArray());
        Assert.All(average.Span[..10].ToArray().Concat(average.Span[60..].ToArray()), a => Assert.Equal(-1f, a));
        // The average starts at the gradient (0.5·g + 0.5·g is exact), then g + 5·g, rounded twice.
        Assert.Equal(before[10..60].Select(v => v + 5f * v), g.Span[10..60].ToArray());
    }

    [Fact]
    public void KalmanCovariance_WithZeroProcessNoise_ShrinksAsARunningMeansGain()
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

    [Theory]
    [InlineData(0.9, 0.999)]
    [InlineData(0.9, 0.98)]
    [InlineData(0.99, 0.95)]
    public void AdamAt_PowersBySquaring_GiveTheFloatConstantsOfMathPow(double beta1, double beta2)
    {
        // The host and the CUDA prepare kernel take β^t by squaring (same bits on both); torch takes Math.Pow. The
        // doubles differ in their last bits at many steps, the float32 constants at none of the first 100,000.
        var settings = new AdamSettings(Lr: 1e-3, Beta1: beta1, Beta2: beta2, Eps: 1e-8, WeightDecay: 0, Decoupled: false);
        int doublesDiffer = 0;
        for (long step = 1; step <= 100_000; step++)
        {
            AdamConstants c = settings.At(step);
            Assert.Equal((float)Math.Sqrt(1 - Math.Pow(beta2, step)), c.BiasCorrection2Sqrt);
            Assert.Equal((float)(-(1e-3 / (1 - Math.Pow(beta1, step)))), c.NegativeStepSize);
            if (AdamSettings.Power(beta2, step) != Math.Pow(beta2, step)) doublesDiffer++;
        }
        Assert.True(doublesDiffer > 0, "the powers never differ, so this test shows nothing about the rounding to float32");
    }

    private static IHostPass<EmaConstants> Ema(IlgpuAccelerator? accelerator, NativeFloats g, NativeFloats average) =>
        Passes.CreateHost<EmaConstants>(accelerator, GradientFormat.Float32, PassUpdate.WriteBack, PassBuffers.Filter(g.Address, average.Address, 0, g.Length, 1));
}
