using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The windowed mean fused into Adam/AdamW, one pass per step: its twin, its runner over the cores and its ILGPU kernel
/// against the filter's own pass followed by Adam's, bit for bit — parameters, moments, the ring and the sums — with the
/// raw gradient left as it was, through the steps before the window is full and after.
/// </summary>
public sealed class WindowedMeanAdamKernelTests
{
    private const int Steps = 40;
    private const int Window = 5;
    private const double Lamb = 5;

    [Theory]
    [InlineData(1, true, true, 0.0, false)]
    [InlineData(37, true, false, 0.01, false)]
    [InlineData(1031, false, true, 0.01, true)]
    [InlineData((1 << 16) + 3, true, true, 0.005, true)]
    public unsafe void CpuTwin_OverManySteps_MatchesTheFilterThenAdamBitForBit(int length, bool mean, bool warmup, double weightDecay, bool decoupled)
    {
        AdamSettings adam = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: weightDecay, Decoupled: decoupled);
        WindowedMeanSettings filter = WindowedMeanSettings.From(Window, mean, Lamb, warmup, trigger: false);
        var fused = new Buffers(length);
        var separate = new Buffers(length);

        for (int step = 1; step <= Steps; step++)
        {
            float[] raw = Gradients.Random(length, seed: step);
            WindowedMeanConstants f = filter.At(step - 1);
            float[] g = (float[])raw.Clone();
            fixed (float* gp = g, ring = fused.Ring, pp = fused.P, mp = fused.M, vp = fused.V)
            fixed (double* sum = fused.Sums)
                WindowedMeanAdamKernels.StepRange(gp, ring + f.Slot * length, sum, pp, mp, vp, length, f, adam.At(step));
            separate.FilterThenAdam(raw, f, adam.At(step));

            Assert.Equal(Gradients.Random(length, seed: step), g);
            separate.AssertEqual(fused, $"step {step}");
        }
    }

    [Fact]
    public void IlgpuKernelOnCpuAccelerator_OverManySteps_MatchesTheFilterThenAdamBitForBit()
    {
        const int length = 1031;
        AdamSettings adam = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.01, Decoupled: false);
        WindowedMeanSettings filter = WindowedMeanSettings.From(Window, mean: true, Lamb, warmup: true, trigger: false);
        var separate = new Buffers(length);
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<FusedAdamConstants<WindowedMeanConstants>>, ArrayView<int>, long>(WindowedMeanAdamKernels.Kernel);
        using MemoryBuffer1D<float, Stride1D.Dense> g = device.Allocate1D<float>(length), ring = device.Allocate1D<float>(Window * length);
        using MemoryBuffer1D<double, Stride1D.Dense> sums = device.Allocate1D<double>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> p = device.Allocate1D(separate.P);
        using MemoryBuffer1D<float, Stride1D.Dense> m = device.Allocate1D<float>(length), v = device.Allocate1D<float>(length);
        using MemoryBuffer1D<FusedAdamConstants<WindowedMeanConstants>, Stride1D.Dense> stepConstants = device.Allocate1D<FusedAdamConstants<WindowedMeanConstants>>(1);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        ring.MemSetToZero();
        sums.MemSetToZero();
        m.MemSetToZero();
        v.MemSetToZero();
        skip.MemSetToZero();

        for (int step = 1; step <= Steps; step++)
        {
            float[] raw = Gradients.Random(length, seed: step);
            WindowedMeanConstants f = filter.At(step - 1);
            g.CopyFromCPU(raw);
            stepConstants.CopyFromCPU([new FusedAdamConstants<WindowedMeanConstants>(f, adam.At(step))]);
            kernel(accelerator.GridStrideThreads(length), g.View, ring.View, sums.View, p.View, m.View, v.View, stepConstants.View, skip.View, length);
            device.Synchronize();
            separate.FilterThenAdam(raw, f, adam.At(step));

            Assert.Equal(raw, g.GetAsArray1D());
            FloatAssert.Close(separate.P, p.GetAsArray1D(), 0, 0, $"step {step}, parameters: ");
            FloatAssert.Close(separate.V, v.GetAsArray1D(), 0, 0, $"step {step}, v: ");
            Assert.Equal(separate.Sums, sums.GetAsArray1D());
        }
    }

    [Fact]
    public unsafe void CpuRunner_SplitOverCores_MatchesOnePassBitForBit()
    {
        const int length = (1 << 20) + 7;
        AdamSettings adam = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.01, Decoupled: true);
        WindowedMeanSettings filter = WindowedMeanSettings.From(3, mean: true, Lamb, warmup: true, trigger: false);
        using var g = new NativeFloats(length);
        using var ring = new NativeFloats(3 * length);
        using var sums = new NativeFloats(2 * length);
        using var p = new NativeFloats(length);
        using var m = new NativeFloats(length);
        using var v = new NativeFloats(length);
        var one = new Buffers(length, window: 3);
        one.P.CopyTo(p.Span);
        var runner = new FusedAdamCpuKernel();
        runner.Bind(g.Address, p.Address, m.Address, v.Address, length);

        for (int step = 1; step <= 5; step++)
        {
            float[] gradient = Gradients.Random(length, seed: step);
            gradient.CopyTo(g.Span);
            WindowedMeanConstants f = filter.At(step - 1);
            runner.Step(0, length, ring.Address, sums.Address, 3, f, adam.At(step));
            fixed (float* gp = gradient, slot = one.Ring, pp = one.P, mp = one.M, vp = one.V)
            fixed (double* sum = one.Sums)
                WindowedMeanAdamKernels.StepRange(gp, slot + f.Slot * length, sum, pp, mp, vp, length, f, adam.At(step));

            FloatAssert.Close(one.P, p.Span, 0, 0, $"step {step}, parameters: ");
            FloatAssert.Close(one.V, v.Span, 0, 0, $"step {step}, v: ");
            FloatAssert.Close(one.Ring, ring.Span, 0, 0, $"step {step}, ring: ");
        }
    }

    /// <summary>One copy of everything the fused step touches, and the two separate passes over it.</summary>
    private sealed class Buffers(int length, int window = Window)
    {
        public float[] Ring { get; } = new float[window * length];
        public double[] Sums { get; } = new double[length];
        public float[] P { get; } = Gradients.Random(length, seed: 100);
        public float[] M { get; } = new float[length];
        public float[] V { get; } = new float[length];

        public unsafe void FilterThenAdam(float[] raw, WindowedMeanConstants f, AdamConstants adam)
        {
            float[] g = (float[])raw.Clone();
            fixed (float* gp = g, ring = Ring, pp = P, mp = M, vp = V)
            fixed (double* sum = Sums)
            {
                WindowedMeanKernels.FilterRange(gp, ring + f.Slot * length, sum, length, f);
                AdamKernels.StepRange(gp, pp, mp, vp, length, adam);
            }
        }

        public void AssertEqual(Buffers fused, string when)
        {
            FloatAssert.Close(P, fused.P, 0, 0, $"{when}, parameters: ");
            FloatAssert.Close(M, fused.M, 0, 0, $"{when}, m: ");
            FloatAssert.Close(V, fused.V, 0, 0, $"{when}, v: ");
            FloatAssert.Close(Ring, fused.Ring, 0, 0, $"{when}, ring: ");
            Assert.Equal(Sums, fused.Sums);
        }
    }
}
