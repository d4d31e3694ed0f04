using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Kalman;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The Kalman filter fused into Adam/AdamW: its twin (run over the cores) and its ILGPU kernel against the filter's scalar loop followed by
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
        runner.Bind(g.Address, p.Address, m.Address, v.Address, length);
        float covariance = measurementNoise;

        for (int step = 1; step <= Steps; step++)
        {
            float[] raw = Gradients.Random(length, seed: step);
            raw.CopyTo(g.Span);
            KalmanConstants constants = KalmanConstants.For(covariance, processNoise, measurementNoise, lamb, out covariance);
            runner.Step(0, length, x.Address, constants, settings.At(step));
            filter.Step(raw);
            adam.Step(raw);

            Assert.Equal(Gradients.Random(length, seed: step), g.Span.ToArray());
            FloatAssert.Close(filter.State, x.Span, 0, 0, $"step {step}, estimates: ");
            FloatAssert.Close(adam.Parameters, p.Span, 0, 0, $"step {step}, parameters: ");
            FloatAssert.Close(adam.SecondMoments, v.Span, 0, 0, $"step {step}, v: ");
        }
    }

    [Fact]
    public void IlgpuKernelOnCpuAccelerator_OverManySteps_MatchesTheFilterThenAdamBitForBit()
    {
        const int length = 1031;
        const float processNoise = 1e-4f, measurementNoise = 1e-2f, lamb = 5f;
        AdamSettings settings = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.01, Decoupled: false);
        var filter = new ScalarKalman(length, processNoise, measurementNoise, lamb);
        var adam = new ScalarAdam(Gradients.Random(length, seed: 100), settings.Lr, settings.Beta1, settings.Beta2, settings.Eps, 0.01, decoupled: false);
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<FusedAdamConstants<KalmanConstants>>, ArrayView<int>>(KalmanAdamKernels.Kernel);
        using MemoryBuffer1D<float, Stride1D.Dense> g = device.Allocate1D<float>(length), x = device.Allocate1D<float>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> p = device.Allocate1D(Gradients.Random(length, seed: 100));
        using MemoryBuffer1D<float, Stride1D.Dense> m = device.Allocate1D<float>(length), v = device.Allocate1D<float>(length);
        using MemoryBuffer1D<FusedAdamConstants<KalmanConstants>, Stride1D.Dense> stepConstants = device.Allocate1D<FusedAdamConstants<KalmanConstants>>(1);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        x.MemSetToZero();
        m.MemSetToZero();
        v.MemSetToZero();
        skip.MemSetToZero();
        float covariance = measurementNoise;

        for (int step = 1; step <= Steps; step++)
        {
            float[] raw = Gradients.Random(length, seed: step);
            g.CopyFromCPU(raw);
            stepConstants.CopyFromCPU([new FusedAdamConstants<KalmanConstants>(KalmanConstants.For(covariance, processNoise, measurementNoise, lamb, out covariance), settings.At(step))]);
            kernel(accelerator.GridStrideThreads(length), g.View, x.View, p.View, m.View, v.View, stepConstants.View, skip.View);
            device.Synchronize();
            filter.Step(raw);
            adam.Step(raw);

            FloatAssert.Close(filter.State, x.GetAsArray1D(), 0, 0, $"step {step}, estimates: ");
            FloatAssert.Close(adam.Parameters, p.GetAsArray1D(), 0, 0, $"step {step}, parameters: ");
        }
    }
}
