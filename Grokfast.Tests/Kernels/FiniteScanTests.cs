using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Engine;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Tests.Kernels;

public sealed class FiniteScanTests
{
    // A length and where the bad value goes: alone; in a short range's scalar tail; first; mid-range; in the last lane
    // of an iteration's two blocks (32 values on AVX2); last.
    public static TheoryData<int, int> Positions => new()
    {
        { 1, 0 },
        { 31, 30 },
        { (1 << 20) + 7, 0 },
        { (1 << 20) + 7, 1 << 19 },
        { (1 << 20) + 7, (1 << 19) + 31 },
        { (1 << 20) + 7, (1 << 20) + 6 },
    };

    [Theory]
    [MemberData(nameof(Positions))]
    public void AllFinite_FindsNaNAndInfinitiesAnywhere(int length, int position)
    {
        using var data = new NativeFloats(length);
        Gradients.Random(length, seed: 1).CopyTo(data.Span);
        Assert.True(FiniteScan.AllFinite(data.Address, length));

        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            float saved = data.Span[position];
            data.Span[position] = bad;
            Assert.False(FiniteScan.AllFinite(data.Address, length), $"{bad} at {position} of {length} was not found");
            data.Span[position] = saved;
        }
    }

    [Theory]
    [MemberData(nameof(Positions))]
    public unsafe void AllFinite_Float64_FindsNaNAndInfinitiesAnywhere_AndAcceptsExtremeFiniteValues(int length, int position)
    {
        double[] values = new double[length];
        Array.Fill(values, double.MaxValue);
        values[length / 2] = double.MinValue;
        values[length - 1] = double.Epsilon;
        fixed (double* data = values)
        {
            Assert.True(GradientFormat.Float64.AllFinite((nint)data, length));

            foreach (double bad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
            {
                double saved = values[position];
                values[position] = bad;
                Assert.False(GradientFormat.Float64.AllFinite((nint)data, length), $"{bad} at {position} of {length} was not found");
                values[position] = saved;
            }
        }
    }

    [Fact]
    public void AllFinite_AcceptsExtremeFiniteValues()
    {
        using var data = new NativeFloats(40);
        data.Span.Fill(float.MaxValue);
        data.Span[3] = float.MinValue;
        data.Span[7] = float.Epsilon;

        Assert.True(FiniteScan.AllFinite(data.Address, 40));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(100_003, 0)]
    [InlineData(100_003, 50_000)]
    [InlineData(100_003, 100_002)]
    public void IlgpuKernel_OnIlgpuCpuAccelerator_FlagsNaNAndInfinitiesAnywhere(int length, int position)
    {
        using IlgpuAccelerator ilgpu = IlgpuAccelerator.CreateCpu();
        var scan = ilgpu.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>>(FiniteScan<float, Float32Format>.Kernel);
        float[] data = Gradients.Random(length, seed: 2);
        using MemoryBuffer1D<float, Stride1D.Dense> device = ilgpu.Accelerator.Allocate1D(data);
        using MemoryBuffer1D<int, Stride1D.Dense> found = ilgpu.Accelerator.Allocate1D<int>(1);
        int Run()
        {
            found.MemSetToZero();
            scan(ilgpu.GridStrideThreads(length), device.View, found.View);
            return found.GetAsArray1D()[0];
        }

        Assert.Equal(0, Run());
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            float[] poisoned = (float[])data.Clone();
            poisoned[position] = bad;
            device.CopyFromCPU(poisoned);
            Assert.True(Run() == 1, $"{bad} at {position} of {length} was not flagged");
        }
    }
}
