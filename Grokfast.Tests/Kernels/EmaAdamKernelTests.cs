using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The EMA filter fused into Adam/AdamW, one pass per step: its twin and its ILGPU kernel against the filter's scalar
/// loop followed by Adam's, bit for bit — parameters, both moments and the filter's average — with the raw gradient
/// left as it was.
/// </summary>
public sealed class EmaAdamKernelTests
{
    private const int Steps = 100;
    private const float Alpha = 0.98f;
    private const float Lamb = 5f;

    [Theory]
    [InlineData(1, 0.0, false)]
    [InlineData(37, 0.01, false)]
    [InlineData(1031, 0.01, true)]
    [InlineData((1 << 16) + 3, 0.005, false)]
    public unsafe void CpuTwin_OverManySteps_MatchesTheFilterThenAdamBitForBit(int length, double weightDecay, bool decoupled)
    {
        AdamSettings settings = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: weightDecay, Decoupled: decoupled);
        var filter = new ScalarEma(length, Alpha, Lamb);
        var adam = new ScalarAdam(Gradients.Random(length, seed: 100), settings.Lr, settings.Beta1, settings.Beta2, settings.Eps, weightDecay, decoupled);
        float[] ema = new float[length], p = Gradients.Random(length, seed: 100), m = new float[length], v = new float[length];

        for (int step = 1; step <= Steps; step++)
        {
            float[] raw = Gradients.Random(length, seed: step);
            float[] g = (float[])raw.Clone();
            fixed (float* gp = g, ep = ema, pp = p, mp = m, vp = v)
                EmaAdamKernels.StepRange(gp, ep, pp, mp, vp, length, EmaConstants.For(Alpha, Lamb, firstStep: step == 1), settings.At(step));
            float[] filtered = (float[])raw.Clone();
            filter.Step(filtered);
            adam.Step(filtered);

            Assert.Equal(raw, g);
            FloatAssert.Close(filter.State, ema, 0, 0, $"step {step}, average: ");
            FloatAssert.Close(adam.Parameters, p, 0, 0, $"step {step}, parameters: ");
            FloatAssert.Close(adam.FirstMoments, m, 0, 0, $"step {step}, m: ");
            FloatAssert.Close(adam.SecondMoments, v, 0, 0, $"step {step}, v: ");
        }
    }

    [Fact]
    public void IlgpuKernelOnCpuAccelerator_OverManySteps_MatchesTheFilterThenAdamBitForBit()
    {
        const int length = 1031;
        AdamSettings settings = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.01, Decoupled: false);
        var filter = new ScalarEma(length, Alpha, Lamb);
        var adam = new ScalarAdam(Gradients.Random(length, seed: 100), settings.Lr, settings.Beta1, settings.Beta2, settings.Eps, 0.01, decoupled: false);
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<FusedAdamConstants<EmaConstants>>, ArrayView<int>, int>(EmaAdamKernels.Kernel);
        using MemoryBuffer1D<float, Stride1D.Dense> g = device.Allocate1D<float>(length), ema = device.Allocate1D<float>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> p = device.Allocate1D(Gradients.Random(length, seed: 100));
        using MemoryBuffer1D<float, Stride1D.Dense> m = device.Allocate1D<float>(length), v = device.Allocate1D<float>(length);
        using MemoryBuffer1D<FusedAdamConstants<EmaConstants>, Stride1D.Dense> stepConstants = device.Allocate1D<FusedAdamConstants<EmaConstants>>(1);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        m.MemSetToZero();
        v.MemSetToZero();
        skip.MemSetToZero();

        for (int step = 1; step <= Steps; step++)
        {
            float[] raw = Gradients.Random(length, seed: step);
            g.CopyFromCPU(raw);
            stepConstants.CopyFromCPU([new FusedAdamConstants<EmaConstants>(EmaConstants.For(Alpha, Lamb, firstStep: step == 1), settings.At(step))]);
            // Aligned views on odd steps (257 groups of four, then three one by one), unaligned ones on even steps (all one by one).
            kernel(accelerator.GridStrideThreads(length), g.View, ema.View, p.View, m.View, v.View, stepConstants.View, skip.View, step % 2 == 0 ? 1 : 0);
            device.Synchronize();
            filter.Step(raw);
            adam.Step(raw);

            FloatAssert.Close(filter.State, ema.GetAsArray1D(), 0, 0, $"step {step}, average: ");
            FloatAssert.Close(adam.Parameters, p.GetAsArray1D(), 0, 0, $"step {step}, parameters: ");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public unsafe void CpuRunner_SplitOverCores_MatchesOnePassBitForBit(bool filtered)
    {
        const int length = (1 << 20) + 7;
        AdamSettings settings = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.01, Decoupled: true);
        using var g = new NativeFloats(length);
        using var ema = new NativeFloats(length);
        using var p = new NativeFloats(length);
        using var m = new NativeFloats(length);
        using var v = new NativeFloats(length);
        float[] oneEma = new float[length], oneP = Gradients.Random(length, seed: 100), oneM = new float[length], oneV = new float[length];
        oneP.CopyTo(p.Span);
        var runner = new FusedAdamCpuKernel();
        runner.Bind(g.Address, p.Address, m.Address, v.Address, length);

        for (int step = 1; step <= 5; step++)
        {
            float[] gradient = Gradients.Random(length, seed: step);
            gradient.CopyTo(g.Span);
            EmaConstants filter = EmaConstants.For(Alpha, Lamb, firstStep: step == 1);
            if (filtered) runner.Step(0, length, ema.Address, filter, settings.At(step));
            else runner.Step(0, length, settings.At(step));
            fixed (float* gp = gradient, ep = oneEma, pp = oneP, mp = oneM, vp = oneV)
            {
                if (filtered) EmaAdamKernels.StepRange(gp, ep, pp, mp, vp, length, filter, settings.At(step));
                else AdamKernels.StepRange(gp, pp, mp, vp, length, settings.At(step));
            }

            FloatAssert.Close(oneP, p.Span, 0, 0, $"step {step}, parameters: ");
            FloatAssert.Close(oneV, v.Span, 0, 0, $"step {step}, v: ");
        }
    }
}
