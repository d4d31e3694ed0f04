using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using static TorchSharp.torch;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The ILGPU kernels of the Kalman filter and the windowed mean fused into Adam on 16-bit parameters — the GPU path, run
/// on ILGPU's CPU accelerator — against the CPU twin the optimizer runs (FusedAdamHalfCpuKernel), bit for bit, every
/// buffer after every step, with master weights and without.
/// </summary>
public sealed unsafe class FusedAdamHalfIlgpuKernelTests
{
    private const int Length = 1031;
    private const int Steps = 30;
    private const int Window = 5;
    private static readonly AdamSettings Adam = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.1, Decoupled: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void KalmanAdamOnBfloat16_IlgpuKernel_MatchesTheCpuTwinBitForBit(bool masterWeights)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>,
            ArrayView<FusedAdamConstants<KalmanConstants>>, ArrayView<int>>(masterWeights
                ? KalmanAdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>.Kernel
                : KalmanAdamHalfKernels<BFloat16Format, DirectWeights<BFloat16Format>>.Kernel);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        skip.MemSetToZero();
        var twin = new Buffers(ScalarType.BFloat16, stateLength: Length);
        var gpu = new Buffers(ScalarType.BFloat16, stateLength: Length);
        KalmanSettings settings = KalmanSettings.From(1e-3, 1e-2, 2.0);
        float covariance = 1e-2f;

        for (int t = 1; t <= Steps; t++)
        {
            KalmanStep kalman = settings.Next(covariance);
            covariance = kalman.NextCovariance;
            var constants = new FusedAdamConstants<KalmanConstants>(kalman.Constants, Adam.At(t));
            twin.NewGradients(t);
            gpu.NewGradients(t);
            twin.Run<BFloat16Format>(masterWeights, (kernel, state, _) => kernel.Step(0, Length, state, kalman.Constants, constants.Adam));

            using MemoryBuffer1D<ushort, Stride1D.Dense> g = device.Allocate1D(gpu.G), p = device.Allocate1D(gpu.P);
            using MemoryBuffer1D<float, Stride1D.Dense> x = device.Allocate1D(gpu.State), masters = device.Allocate1D(gpu.Master),
                m = device.Allocate1D(gpu.M), v = device.Allocate1D(gpu.V);
            using MemoryBuffer1D<FusedAdamConstants<KalmanConstants>, Stride1D.Dense> step = device.Allocate1D([constants]);
            // Without master weights the kernel gets an empty master view, as the CUDA launcher passes it.
            kernel(accelerator.GridStrideThreads(Length), g.View, x.View, masterWeights ? masters.View : ArrayView<float>.Empty, p.View, m.View, v.View, step.View, skip.View);
            device.Synchronize();
            p.CopyToCPU(gpu.P);
            x.CopyToCPU(gpu.State);
            masters.CopyToCPU(gpu.Master);
            m.CopyToCPU(gpu.M);
            v.CopyToCPU(gpu.V);

            twin.AssertEqual(gpu, t);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WindowedMeanAdamOnFloat16_IlgpuKernel_MatchesTheCpuTwinBitForBit(bool masterWeights)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, ArrayView<float>,
            ArrayView<FusedAdamConstants<WindowedMeanConstants>>, ArrayView<int>, long>(masterWeights
                ? WindowedMeanAdamHalfKernels<Float16Format, MasterWeights<Float16Format>>.Kernel
                : WindowedMeanAdamHalfKernels<Float16Format, DirectWeights<Float16Format>>.Kernel);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        skip.MemSetToZero();
        var twin = new Buffers(ScalarType.Float16, stateLength: Window * Length);
        var gpu = new Buffers(ScalarType.Float16, stateLength: Window * Length);
        WindowedMeanSettings settings = WindowedMeanSettings.From(Window, mean: true, lamb: 2.0, warmup: true, trigger: false);

        for (int t = 1; t <= Steps; t++)
        {
            var constants = new FusedAdamConstants<WindowedMeanConstants>(settings.At(t - 1), Adam.At(t));
            twin.NewGradients(t);
            gpu.NewGradients(t);
            twin.Run<Float16Format>(masterWeights, (kernel, ring, sums) => kernel.Step(0, Length, ring, sums, Window, constants.Filter, constants.Adam));

            using MemoryBuffer1D<ushort, Stride1D.Dense> g = device.Allocate1D(gpu.G), p = device.Allocate1D(gpu.P);
            using MemoryBuffer1D<float, Stride1D.Dense> ring = device.Allocate1D(gpu.State), masters = device.Allocate1D(gpu.Master),
                m = device.Allocate1D(gpu.M), v = device.Allocate1D(gpu.V);
            using MemoryBuffer1D<double, Stride1D.Dense> sums = device.Allocate1D(gpu.Sums);
            using MemoryBuffer1D<FusedAdamConstants<WindowedMeanConstants>, Stride1D.Dense> step = device.Allocate1D([constants]);
            kernel(accelerator.GridStrideThreads(Length), g.View, ring.View, sums.View, masterWeights ? masters.View : ArrayView<float>.Empty, p.View, m.View, v.View,
                step.View, skip.View, Length);
            device.Synchronize();
            p.CopyToCPU(gpu.P);
            ring.CopyToCPU(gpu.State);
            sums.CopyToCPU(gpu.Sums);
            masters.CopyToCPU(gpu.Master);
            m.CopyToCPU(gpu.M);
            v.CopyToCPU(gpu.V);

            twin.AssertEqual(gpu, t);
        }
    }

    /// <summary>Everything a 16-bit fused step touches, from the same fixed-seed start.</summary>
    private sealed class Buffers
    {
        private readonly ScalarType format;
        private readonly ushort[] initial;

        public Buffers(ScalarType format, int stateLength)
        {
            this.format = format;
            State = new float[stateLength];
            P = HalfPrecisionTests.LibTorch(Gradients.Random(Length, seed: 7), format);
            Master = P.Select(bits => HalfPrecisionTests.Widen(format, bits)).ToArray();
            initial = [.. P];
        }

        public ushort[] G { get; private set; } = [];
        public ushort[] P { get; }
        public float[] State { get; }
        public double[] Sums { get; } = new double[Length];
        public float[] Master { get; }
        public float[] M { get; } = new float[Length];
        public float[] V { get; } = new float[Length];

        /// <summary>Step <paramref name="t"/>'s gradients, fixed-seed, rounded to the format.</summary>
        public void NewGradients(int t) => G = HalfPrecisionTests.LibTorch(Gradients.Random(Length, seed: t), format);

        /// <summary>Runs the optimizer's CPU twin for format <typeparamref name="TFormat"/> over these buffers.</summary>
        public void Run<TFormat>(bool masterWeights, Action<IFusedAdamCpuKernel, nint, nint> step)
            where TFormat : struct, IHalfFormat
        {
            fixed (ushort* g = G, p = P)
            fixed (float* state = State, master = Master, m = M, v = V)
            fixed (double* sums = Sums)
            {
                var kernel = new FusedAdamHalfCpuKernel<TFormat>();
                kernel.Bind((nint)g, masterWeights ? (nint)master : 0, (nint)p, (nint)m, (nint)v, Length);
                step(kernel, (nint)state, (nint)sums);
            }
        }

        public void AssertEqual(Buffers other, int t)
        {
            Assert.False(P.SequenceEqual(initial), $"the step left the parameters as they were at step {t}");
            Assert.True(P.SequenceEqual(other.P), $"parameters differ at step {t}");
            Assert.True(State.SequenceEqual(other.State), $"filter state differs at step {t}");
            Assert.True(Sums.SequenceEqual(other.Sums), $"sums differ at step {t}");
            Assert.True(Master.SequenceEqual(other.Master), $"master weights differ at step {t}");
            Assert.True(M.SequenceEqual(other.M) && V.SequenceEqual(other.V), $"moments differ at step {t}");
        }
    }
}
