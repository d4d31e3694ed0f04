using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Engine;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// Fused clipping's norm: the host's block sums (vectorised, split over cores) and the CUDA kernels, run here on ILGPU's
/// CPU accelerator with fewer threads than work, sum in the same fixed order — the same bits for every format — and
/// agree with a plain double sum to rounding.
/// </summary>
public sealed unsafe class GradientNormTests : IDisposable
{
    // Runs as a step forms them: a long one (several chunks on the host), one two blocks and a bit, one shorter than a lane's stride.
    private static readonly int[] RunLengths = [150_001, 2 * GradientNorm.BlockLength + 5, 7, 40_000];

    private readonly IlgpuAccelerator ilgpu = IlgpuAccelerator.CreateCpu();

    [Fact]
    public void Float32_HostAndKernels_AgreeBitForBit_AndWithAPlainSum() => AssertNormsAgree<float, Float32Format>(x => x);

    [Fact]
    public void BFloat16_HostAndKernels_AgreeBitForBit_AndWithAPlainSum() => AssertNormsAgree<ushort, BFloat16Format>(BFloat16Format.Narrow);

    [Fact]
    public void Float16_HostAndKernels_AgreeBitForBit_AndWithAPlainSum() => AssertNormsAgree<ushort, Float16Format>(Float16Format.Narrow);

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NonFiniteGradient_SetsTheSkipFlagOnlyWhenGuarded_AndTheNormIsNotFinite(float bad)
    {
        float[][] runs = Runs(x => x);
        runs[1][12_345] = bad;

        (double norm, float scale, int skip) = OnKernels<float, Float32Format>(runs, maxNorm: 1.0, guard: true);
        Assert.Equal(1, skip);
        Assert.False(double.IsFinite(norm));
        Assert.Equal(float.IsNaN(bad) ? float.NaN : 0f, scale);
        Assert.Equal(0, OnKernels<float, Float32Format>(runs, maxNorm: 1.0, guard: false).Skip);
        Assert.False(double.IsFinite(OnHost<float, Float32Format>(runs)));
    }

    [Theory]
    [InlineData(3.0, 2.0, 1f)]
    [InlineData(2.0, 2.0, (float)(2.0 / (2.0 + 1e-6)))]
    [InlineData(1.0, 4.0, (float)(1.0 / (4.0 + 1e-6)))]
    [InlineData(1.0, 0.0, 1f)]
    [InlineData(1.0, double.PositiveInfinity, 0f)]
    public void ClipScale_IsClipGradNormsFactor(double maxNorm, double norm, float expected) =>
        Assert.Equal(expected, GradientNorm.ClipScale(maxNorm, norm));

    public void Dispose() => ilgpu.Dispose();

    private void AssertNormsAgree<TStore, TFormat>(Func<float, TStore> narrow)
        where TStore : unmanaged
        where TFormat : struct, IGradientFormat<TStore>
    {
        TStore[][] runs = Runs(narrow);
        double host = Math.Sqrt(OnHost<TStore, TFormat>(runs));
        (double device, float scale, int skip) = OnKernels<TStore, TFormat>(runs, maxNorm: host / 3, guard: true);

        Assert.Equal(BitConverter.DoubleToInt64Bits(host), BitConverter.DoubleToInt64Bits(device));
        Assert.Equal(GradientNorm.ClipScale(host / 3, host), scale);
        Assert.Equal(0, skip);
        double plain = Math.Sqrt(runs.SelectMany(r => r).Sum(v => (double)TFormat.Widen(v) * TFormat.Widen(v)));
        Assert.Equal(plain, host, plain * 1e-13);
    }

    private static TStore[][] Runs<TStore>(Func<float, TStore> narrow) =>
        RunLengths.Select((length, r) => Gradients.Random(length, seed: 10 + r).Select(narrow).ToArray()).ToArray();

    // The host's sum of squares: each run's block sums, one after another, then the columns and folds.
    private static double OnHost<TStore, TFormat>(TStore[][] runs)
        where TStore : unmanaged
        where TFormat : struct, IGradientFormat<TStore>
    {
        var sums = new double[runs.Sum(r => GradientNorm.Blocks(r.Length))];
        int at = 0;
        foreach (TStore[] run in runs)
        {
            fixed (TStore* data = run)
            fixed (double* blockSums = sums)
                GradientNorm<TStore, TFormat>.BlockSums((nint)data, run.Length, blockSums + at);
            at += (int)GradientNorm.Blocks(run.Length);
        }
        return GradientNorm.Total(sums);
    }

    // The CUDA path's kernels, each launched with fewer threads than it has work so every grid-stride loop turns (whole
    // groups of ILGPU's CPU accelerator, so the stride is the thread count).
    private (double Norm, float Scale, int Skip) OnKernels<TStore, TFormat>(TStore[][] runs, double maxNorm, bool guard)
        where TStore : unmanaged
        where TFormat : struct, IGradientFormat<TStore>
    {
        Accelerator accelerator = ilgpu.Accelerator;
        var lanes = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<TStore>, ArrayView<double>>(GradientNorm<TStore, TFormat>.LaneKernel);
        var columns = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, long, ArrayView<double>>(GradientNorm.SumKernel<BlockTerms>);
        var folds = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, long, ArrayView<double>>(GradientNorm.SumKernel<ValueTerms>);
        var clip = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<float>, ArrayView<int>, double, int>(GradientNorm.ClipKernel);
        long blocks = runs.Sum(r => GradientNorm.Blocks(r.Length));
        using MemoryBuffer1D<double, Stride1D.Dense> laneSums = accelerator.Allocate1D<double>(blocks * GradientNorm.Lanes);
        using MemoryBuffer1D<double, Stride1D.Dense> columnSums = accelerator.Allocate1D<double>(GradientNorm.Columns);
        using MemoryBuffer1D<double, Stride1D.Dense> foldSums = accelerator.Allocate1D<double>(GradientNorm.Folds);
        using MemoryBuffer1D<double, Stride1D.Dense> norm = accelerator.Allocate1D<double>(1);
        using MemoryBuffer1D<float, Stride1D.Dense> scale = accelerator.Allocate1D<float>(1);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = accelerator.Allocate1D<int>(1);
        skip.MemSetToZero();
        long at = 0;
        foreach (TStore[] run in runs)
        {
            using MemoryBuffer1D<TStore, Stride1D.Dense> data = accelerator.Allocate1D(run);
            long runLanes = GradientNorm.Blocks(run.Length) * GradientNorm.Lanes;
            lanes(ilgpu.GridStrideThreads(runLanes), data.View, laneSums.View.SubView(at, runLanes));
            accelerator.Synchronize();
            at += runLanes;
        }
        columns(48, laneSums.View, blocks, columnSums.View);
        folds(16, columnSums.View, GradientNorm.Columns, foldSums.View);
        clip(64, foldSums.View, norm.View, scale.View, skip.View, maxNorm, guard ? 1 : 0);
        return (norm.GetAsArray1D()[0], scale.GetAsArray1D()[0], skip.GetAsArray1D()[0]);
    }
}
