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
/// The Kalman filter and the windowed mean on 16-bit gradients (float32 state, float64 sums) against the float32 filter
/// run on the same widened gradients and rounded by libtorch — bit for bit, gradients and state, twin and ILGPU kernel.
/// </summary>
public sealed unsafe class HalfFilterTests
{
    private const int Steps = 24;
    private const int Window = 5;
    private static readonly KalmanSettings Kalman = KalmanSettings.From(1e-4, 1e-2, 5.0);
    private static readonly WindowedMeanSettings Mean = WindowedMeanSettings.From(Window, mean: true, lamb: 5.0, warmup: true, trigger: false);

    [Theory]
    [InlineData(ScalarType.BFloat16, 37)]
    [InlineData(ScalarType.BFloat16, (1 << 16) + 3)]
    [InlineData(ScalarType.Float16, 37)]
    [InlineData(ScalarType.Float16, (1 << 16) + 3)]
    public void KalmanTwin_OnHalfGradients_MatchesTheFloat32FilterRoundedByLibTorch(ScalarType format, int length)
    {
        var x = new float[length];
        AssertMatchesKalman(format, length, x, (g, constants) =>
        {
            fixed (ushort* gp = g)
            fixed (float* xp = x)
            {
                if (format == ScalarType.BFloat16) KalmanHalfKernels<BFloat16Format>.FilterRange(gp, xp, length, constants);
                else KalmanHalfKernels<Float16Format>.FilterRange(gp, xp, length, constants);
            }
        });
    }

    [Fact]
    public void KalmanIlgpuKernelOnCpuAccelerator_OnFloat16Gradients_MatchesTheFloat32FilterRoundedByLibTorch()
    {
        const int length = 1031;
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<KalmanConstants>, ArrayView<int>>(KalmanHalfKernels<Float16Format>.Kernel);
        using MemoryBuffer1D<ushort, Stride1D.Dense> g = device.Allocate1D<ushort>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> xBuffer = device.Allocate1D<float>(length);
        using MemoryBuffer1D<KalmanConstants, Stride1D.Dense> step = device.Allocate1D<KalmanConstants>(1);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        xBuffer.MemSetToZero();
        skip.MemSetToZero();
        var x = new float[length];

        AssertMatchesKalman(ScalarType.Float16, length, x, (gradients, constants) =>
        {
            g.CopyFromCPU(gradients);
            step.CopyFromCPU([constants]);
            kernel(accelerator.GridStrideThreads(length), g.View, xBuffer.View, step.View, skip.View);
            device.Synchronize();
            g.CopyToCPU(gradients);
            xBuffer.CopyToCPU(x);
        });
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 37)]
    [InlineData(ScalarType.BFloat16, (1 << 16) + 3)]
    [InlineData(ScalarType.Float16, 37)]
    [InlineData(ScalarType.Float16, (1 << 16) + 3)]
    public void WindowedMeanTwin_OnHalfGradients_MatchesTheFloat32FilterRoundedByLibTorch(ScalarType format, int length)
    {
        var ring = new float[Window * length];
        var sums = new double[length];
        AssertMatchesWindowedMean(format, length, ring, sums, (g, constants) =>
        {
            fixed (ushort* gp = g)
            fixed (float* slot = ring)
            fixed (double* sum = sums)
            {
                if (format == ScalarType.BFloat16) WindowedMeanHalfKernels<BFloat16Format>.FilterRange(gp, slot + constants.Slot * length, sum, length, constants);
                else WindowedMeanHalfKernels<Float16Format>.FilterRange(gp, slot + constants.Slot * length, sum, length, constants);
            }
        });
    }

    [Fact]
    public void WindowedMeanIlgpuKernelOnCpuAccelerator_OnBFloat16Gradients_MatchesTheFloat32FilterRoundedByLibTorch()
    {
        const int length = 1031;
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<double>, ArrayView<WindowedMeanConstants>, ArrayView<int>, long>(
            WindowedMeanHalfKernels<BFloat16Format>.Kernel);
        using MemoryBuffer1D<ushort, Stride1D.Dense> g = device.Allocate1D<ushort>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> ringBuffer = device.Allocate1D<float>(Window * length);
        using MemoryBuffer1D<double, Stride1D.Dense> sumBuffer = device.Allocate1D<double>(length);
        using MemoryBuffer1D<WindowedMeanConstants, Stride1D.Dense> step = device.Allocate1D<WindowedMeanConstants>(1);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        ringBuffer.MemSetToZero();
        sumBuffer.MemSetToZero();
        skip.MemSetToZero();
        var ring = new float[Window * length];
        var sums = new double[length];

        AssertMatchesWindowedMean(ScalarType.BFloat16, length, ring, sums, (gradients, constants) =>
        {
            g.CopyFromCPU(gradients);
            step.CopyFromCPU([constants]);
            kernel(accelerator.GridStrideThreads(length), g.View, ringBuffer.View, sumBuffer.View, step.View, skip.View, length);
            device.Synchronize();
            g.CopyToCPU(gradients);
            ringBuffer.CopyToCPU(ring);
            sumBuffer.CopyToCPU(sums);
        });
    }

    [Fact]
    public void Runners_SplitOverCores_MatchOnePassBitForBit()
    {
        const int length = (1 << 20) + 7;
        ushort[] g = HalfPrecisionTests.LibTorch(Gradients.Random(length, seed: 3), ScalarType.Float16);
        ushort[] oneG = (ushort[])g.Clone(), kalmanG = (ushort[])g.Clone(), oneKalmanG = (ushort[])g.Clone();
        float[] ring = new float[Window * length], oneRing = new float[Window * length], x = new float[length], oneX = new float[length];
        double[] sums = new double[length], oneSums = new double[length];
        using IWindowedMeanKernel mean = WindowedMeanHalfKernels<Float16Format>.CreateCpu();
        using IGradientStateKernel<KalmanConstants> kalman = KalmanHalfKernels<Float16Format>.CreateCpu();
        float covariance = Kalman.MeasurementNoise;

        fixed (ushort* gp = g, op = oneG, kp = kalmanG, okp = oneKalmanG)
        fixed (float* rp = ring, orp = oneRing, xp = x, oxp = oneX)
        fixed (double* sp = sums, osp = oneSums)
        {
            mean.Bind((nint)gp, (nint)rp, (nint)sp, length, Window);
            kalman.Bind((nint)kp, (nint)xp, length);
            for (int step = 0; step < Window + 2; step++)
            {
                WindowedMeanConstants constants = Mean.At(step);
                mean.Filter(0, length, constants);
                WindowedMeanHalfKernels<Float16Format>.FilterRange(op, orp + constants.Slot * length, osp, length, constants);
                KalmanStep next = Kalman.Next(covariance);
                covariance = next.NextCovariance;
                kalman.Filter(0, length, next.Constants);
                KalmanHalfKernels<Float16Format>.FilterRange(okp, oxp, length, next.Constants);
            }
        }

        Assert.Equal(oneG, g);
        Assert.Equal(oneSums, sums);
        Assert.Equal(oneKalmanG, kalmanG);
        Assert.Equal(oneX, x);
        Assert.NotEqual(HalfPrecisionTests.LibTorch(Gradients.Random(length, seed: 3), ScalarType.Float16), g);
    }

    private static void AssertMatchesKalman(ScalarType format, int length, float[] x, Action<ushort[], KalmanConstants> halfStep)
    {
        var reference = new float[length];
        float covariance = Kalman.MeasurementNoise;
        AssertMatches(format, length, step =>
        {
            KalmanStep next = Kalman.Next(covariance);
            covariance = next.NextCovariance;
            return next.Constants;
        }, (wide, constants) =>
        {
            fixed (float* wp = wide, rp = reference)
                KalmanKernels.FilterRange(wp, rp, length, constants);
        }, halfStep, () => Assert.Equal(reference, x));
    }

    private static void AssertMatchesWindowedMean(ScalarType format, int length, float[] ring, double[] sums, Action<ushort[], WindowedMeanConstants> halfStep)
    {
        var referenceRing = new float[Window * length];
        var referenceSums = new double[length];
        AssertMatches(format, length, step => Mean.At(step), (wide, constants) =>
        {
            fixed (float* wp = wide, rp = referenceRing)
            fixed (double* sp = referenceSums)
                WindowedMeanKernels.FilterRange(wp, rp + constants.Slot * length, sp, length, constants);
        }, halfStep, () =>
        {
            Assert.Equal(referenceRing, ring);
            Assert.Equal(referenceSums, sums);
        });
    }

    /// <summary>
    /// Each step: 16-bit gradients from the fixed-seed trace; the float32 twin on their widened values, rounded by libtorch,
    /// is what the 16-bit step must leave in the gradients, bit for bit; then <paramref name="assertState"/>.
    /// </summary>
    private static void AssertMatches<TConstants>(ScalarType format, int length, Func<int, TConstants> constantsAt,
        Action<float[], TConstants> float32Step, Action<ushort[], TConstants> halfStep, Action assertState)
    {
        bool changed = false;
        for (int step = 0; step < Steps; step++)
        {
            TConstants constants = constantsAt(step);
            ushort[] g = HalfPrecisionTests.LibTorch(Gradients.Random(length, seed: step), format);
            float[] wide = g.Select(bits => HalfPrecisionTests.Widen(format, bits)).ToArray();
            float32Step(wide, constants);
            ushort[] expected = HalfPrecisionTests.LibTorch(wide, format);
            ushort[] raw = (ushort[])g.Clone();

            halfStep(g, constants);

            Assert.Equal(expected, g);
            assertState();
            changed |= !raw.SequenceEqual(g);
        }
        Assert.True(changed, "the filter never changed a gradient");
    }
}
