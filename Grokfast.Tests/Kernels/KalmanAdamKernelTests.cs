using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Kalman;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The Kalman filter fused into Adam/AdamW: its twin (run over the cores) against the filter's scalar loop followed by
/// Adam's, bit for bit — parameters, both moments and the estimates — with the raw gradient left as it was.
/// </summary>
public sealed class KalmanAdamKernelTests
{
    private const int Steps = 60;

    [Theory]
    [InlineData(1, 0.0, false)]
    [InlineData(1031, 0.01, false)]
    [InlineData((1 << 20) + 7, 0.01, true)]
    public void CpuRunner_OverManySteps_MatchesTheFilterThenAdamBitForBit(int length, double weightDecay, bool decoupled)
    {
        const float processNoise = 1e-4f, measurementNoise = 1e-2f, lamb = 5f;
        AdamSettings settings = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: weightDecay, Decoupled: decoupled);
        var filter = new ScalarKalman(length, processNoise, measurementNoise, lamb);
        var adam = new ScalarAdam(Gradients.Random(length, seed: 100), settings.Lr, settings.Beta1, settings.Beta2, settings.Eps, weightDecay, decoupled);
        using var g = new NativeFloats(length);
        using var x = new NativeFloats(length);
        using var p = new NativeFloats(length);
        using var m = new NativeFloats(length);
        using var v = new NativeFloats(length);
        adam.Parameters.CopyTo(p.Span);
        var runner = new FusedAdamCpuKernel();
        runner.Bind(g.Address, x.Address, p.Address, m.Address, v.Address, length);
        float covariance = measurementNoise;

        for (int step = 1; step <= Steps; step++)
        {
            float[] raw = Gradients.Random(length, seed: step);
            raw.CopyTo(g.Span);
            KalmanConstants constants = KalmanConstants.For(covariance, processNoise, measurementNoise, lamb, out covariance);
            runner.Step(0, length, constants, settings.At(step));
            filter.Step(raw);
            adam.Step(raw);

            Assert.Equal(Gradients.Random(length, seed: step), g.Span.ToArray());
            FloatAssert.Close(filter.State, x.Span, 0, 0, $"step {step}, estimates: ");
            FloatAssert.Close(adam.Parameters, p.Span, 0, 0, $"step {step}, parameters: ");
            FloatAssert.Close(adam.SecondMoments, v.Span, 0, 0, $"step {step}, v: ");
        }
    }
}
