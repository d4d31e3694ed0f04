using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// AdamW on 16-bit parameters, alone and with the EMA filter, with float32 master weights and without: against the
/// float32 step on the widened values, its results rounded by libtorch — bit for bit, twin and ILGPU kernel — and
/// master weights keeping the updates that direct 16-bit updates lose.
/// </summary>
public sealed unsafe class AdamHalfKernelTests
{
    private const int Steps = 60;
    private static readonly AdamSettings Adam = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.1, Decoupled: true);

    [Theory]
    [InlineData(ScalarType.BFloat16, 37, true)]
    [InlineData(ScalarType.BFloat16, (1 << 16) + 3, true)]
    [InlineData(ScalarType.Float16, (1 << 16) + 3, true)]
    [InlineData(ScalarType.BFloat16, 37, false)]
    [InlineData(ScalarType.Float16, (1 << 16) + 3, false)]
    public void EmaCpuKernel_OverManySteps_MatchesTheFloat32StepRoundedByLibTorch(ScalarType format, int length, bool masterWeights)
    {
        var half = new State(format, length);
        AssertMatchesFloat32(format, length, masterWeights, filtered: true, half, (constants, adam) =>
        {
            RunHalfKernel(format, masterWeights, half, (kernel, ema) => kernel.Step(0, length, ema, constants, adam));
        });
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 37, true)]
    [InlineData(ScalarType.Float16, (1 << 16) + 3, true)]
    [InlineData(ScalarType.BFloat16, (1 << 16) + 3, false)]
    [InlineData(ScalarType.Float16, 37, false)]
    public void AdamAloneCpuKernel_OverManySteps_MatchesTheFloat32StepRoundedByLibTorch(ScalarType format, int length, bool masterWeights)
    {
        var half = new State(format, length);
        AssertMatchesFloat32(format, length, masterWeights, filtered: false, half, (_, adam) =>
        {
            RunHalfKernel(format, masterWeights, half, (kernel, _) => kernel.Step(0, length, adam));
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AdamAloneIlgpuKernelsOnCpuAccelerator_OverManySteps_MatchTheFloat32StepRoundedByLibTorch(bool masterWeights)
    {
        const int length = 1031;
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>,
            ArrayView<AdamConstants>, ArrayView<int>>(masterWeights
                ? AdamHalfKernels<Float16Format, MasterWeights<Float16Format>>.Kernel
                : AdamHalfKernels<Float16Format, DirectWeights<Float16Format>>.Kernel);
        var half = new State(ScalarType.Float16, length);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        skip.MemSetToZero();

        AssertMatchesFloat32(ScalarType.Float16, length, masterWeights, filtered: false, half, (_, adam) =>
        {
            using MemoryBuffer1D<ushort, Stride1D.Dense> g = device.Allocate1D(half.G), p = device.Allocate1D(half.P);
            using MemoryBuffer1D<float, Stride1D.Dense> masterP = device.Allocate1D(half.Master), m = device.Allocate1D(half.M), v = device.Allocate1D(half.V);
            using MemoryBuffer1D<AdamConstants, Stride1D.Dense> step = device.Allocate1D([adam]);
            // Without master weights the kernel gets an empty master view, as the CUDA launcher passes it.
            kernel(accelerator.GridStrideThreads(length), g.View, masterWeights ? masterP.View : ArrayView<float>.Empty, p.View, m.View, v.View, step.View, skip.View);
            device.Synchronize();
            p.CopyToCPU(half.P);
            masterP.CopyToCPU(half.Master);
            m.CopyToCPU(half.M);
            v.CopyToCPU(half.V);
        });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IlgpuKernelsOnCpuAccelerator_OverManySteps_MatchTheFloat32StepRoundedByLibTorch(bool masterWeights)
    {
        const int length = 1031;
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>,
            ArrayView<FusedAdamConstants<EmaConstants>>, ArrayView<int>>(masterWeights
                ? EmaAdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>.Kernel
                : EmaAdamHalfKernels<BFloat16Format, DirectWeights<BFloat16Format>>.Kernel);
        var half = new State(ScalarType.BFloat16, length);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        skip.MemSetToZero();

        AssertMatchesFloat32(ScalarType.BFloat16, length, masterWeights, filtered: true, half, (constants, adam) =>
        {
            using MemoryBuffer1D<ushort, Stride1D.Dense> g = device.Allocate1D(half.G), p = device.Allocate1D(half.P);
            using MemoryBuffer1D<float, Stride1D.Dense> ema = device.Allocate1D(half.Ema), masterP = device.Allocate1D(half.Master), m = device.Allocate1D(half.M), v = device.Allocate1D(half.V);
            using MemoryBuffer1D<FusedAdamConstants<EmaConstants>, Stride1D.Dense> step = device.Allocate1D([new FusedAdamConstants<EmaConstants>(constants, adam)]);
            kernel(accelerator.GridStrideThreads(length), g.View, ema.View, masterWeights ? masterP.View : ArrayView<float>.Empty, p.View, m.View, v.View, step.View, skip.View);
            device.Synchronize();
            p.CopyToCPU(half.P);
            ema.CopyToCPU(half.Ema);
            masterP.CopyToCPU(half.Master);
            m.CopyToCPU(half.M);
            v.CopyToCPU(half.V);
        });
    }

    /// <summary>
    /// Binds the optimizer's 16-bit CPU kernel (FusedAdamHalfCpuKernel) to <paramref name="half"/>'s arrays — its master
    /// weights, or none — and runs <paramref name="step"/> with it and the EMA's address.
    /// </summary>
    private static void RunHalfKernel(ScalarType format, bool masterWeights, State half, Action<IFusedAdamCpuKernel, nint> step)
    {
        fixed (ushort* g = half.G, p = half.P)
        fixed (float* ema = half.Ema, master = half.Master, m = half.M, v = half.V)
        {
            nint masterAddress = masterWeights ? (nint)master : 0;
            IFusedAdamCpuKernel kernel;
            if (format == ScalarType.BFloat16)
            {
                var bfloat16 = new FusedAdamHalfCpuKernel<BFloat16Format>();
                bfloat16.Bind((nint)g, masterAddress, (nint)p, (nint)m, (nint)v, half.G.Length);
                kernel = bfloat16;
            }
            else
            {
                var float16 = new FusedAdamHalfCpuKernel<Float16Format>();
                float16.Bind((nint)g, masterAddress, (nint)p, (nint)m, (nint)v, half.G.Length);
                kernel = float16;
            }
            step(kernel, (nint)ema);
        }
    }

    /// <summary>
    /// Each step: fresh 16-bit gradients; the float32 step (with the EMA when <paramref name="filtered"/>) on the widened gradient (and, without master weights,
    /// the widened parameter), its parameter rounded by libtorch, is what <paramref name="halfStep"/> must produce.
    /// </summary>
    private static void AssertMatchesFloat32(ScalarType format, int length, bool masterWeights, bool filtered, State half, Action<EmaConstants, AdamConstants> halfStep)
    {
        float[] initial = Gradients.Random(length, seed: 100);
        ushort[] p16 = HalfPrecisionTests.LibTorch(initial, format);
        p16.CopyTo(half.P, 0);
        float[] wideP = p16.Select(bits => HalfPrecisionTests.Widen(format, bits)).ToArray();
        wideP.CopyTo(half.Master, 0);
        float[] ema = new float[length], m = new float[length], v = new float[length];
        for (int step = 1; step <= Steps; step++)
        {
            EmaConstants constants = EmaConstants.For(0.98, 2.0, firstStep: step == 1);
            ushort[] g = HalfPrecisionTests.LibTorch(Gradients.Random(length, seed: step), format);
            g.CopyTo(half.G, 0);
            float[] wideG = g.Select(bits => HalfPrecisionTests.Widen(format, bits)).ToArray();
            if (!masterWeights) wideP = half.P.Select(bits => HalfPrecisionTests.Widen(format, bits)).ToArray();
            fixed (float* gp = wideG, ep = ema, pp = wideP, mp = m, vp = v)
            {
                if (filtered) EmaAdamKernels.StepRange(gp, ep, pp, mp, vp, length, constants, Adam.At(step));
                else AdamKernels.StepRange(gp, pp, mp, vp, length, Adam.At(step));
            }

            halfStep(constants, Adam.At(step));

            Assert.Equal(HalfPrecisionTests.LibTorch(wideP, format), half.P);
            Assert.Equal(ema, half.Ema);
            Assert.Equal(m, half.M);
            Assert.Equal(v, half.V);
            if (masterWeights) Assert.Equal(wideP, half.Master);
            Assert.Equal(g, half.G);
        }
        Assert.NotEqual(p16, half.P);
    }

    /// <summary>Everything a 16-bit fused step touches.</summary>
    private sealed class State(ScalarType format, int length)
    {
        public ScalarType Format { get; } = format;
        public ushort[] G { get; } = new ushort[length];
        public ushort[] P { get; } = new ushort[length];
        public float[] Ema { get; } = new float[length];
        public float[] Master { get; } = new float[length];
        public float[] M { get; } = new float[length];
        public float[] V { get; } = new float[length];
    }
}
