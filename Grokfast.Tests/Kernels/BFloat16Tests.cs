using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// bfloat16 gradients: the conversions against libtorch's own rounding, and the EMA filter on bfloat16 gradients against
/// the float32 filter run on the same (widened) inputs and rounded by libtorch — bit for bit, twin and ILGPU kernel.
/// </summary>
public sealed unsafe class BFloat16Tests
{
    [Fact]
    public void Narrow_OfRandomAndEdgeBitPatterns_RoundsAsLibTorchDoes()
    {
        float[] values = Patterns();

        ushort[] expected = LibTorchBFloat16(values);

        for (int i = 0; i < values.Length; i++)
        {
            ushort got = BFloat16Bits.Narrow(values[i]);
            if (float.IsNaN(values[i])) Assert.True(float.IsNaN(BFloat16Bits.Widen(got)), $"NaN {BitConverter.SingleToUInt32Bits(values[i]):X8} became {got:X4}");
            else Assert.True(expected[i] == got, $"{values[i]:R} ({BitConverter.SingleToUInt32Bits(values[i]):X8}): libtorch {expected[i]:X4}, ours {got:X4}");
        }
    }

    [Fact]
    public void NarrowLanes_MatchTheScalarConversion()
    {
        float[] values = Patterns();
        int block = 2 * System.Numerics.Vector<float>.Count;
        var lanes = new ushort[values.Length / block * block];

        fixed (float* source = values)
        fixed (ushort* destination = lanes)
        {
            for (int i = 0; i + block <= lanes.Length; i += block)
                BFloat16Bits.NarrowLanes(System.Numerics.Vector.Load(source + i), System.Numerics.Vector.Load(source + i + block / 2), destination + i);
        }

        for (int i = 0; i < lanes.Length; i++) Assert.True(BFloat16Bits.Narrow(values[i]) == lanes[i], $"element {i}: {values[i]:R}");
    }

    [Theory]
    [InlineData(0x3F80_8000u, (ushort)0x3F80)] // 1 + 2^-8, halfway between 1 and 1 + 2^-7: to the even 1.
    [InlineData(0x3F81_8000u, (ushort)0x3F82)] // halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up, to the even one.
    [InlineData(0xBF80_8000u, (ushort)0xBF80)] // the same below zero.
    [InlineData(0x3F80_8001u, (ushort)0x3F81)] // just above halfway: up.
    [InlineData(0x7F7F_FFFFu, (ushort)0x7F80)] // the largest float rounds to infinity, as IEEE says.
    public void Narrow_Ties_RoundToEven(uint bits, ushort expected) =>
        Assert.Equal(expected, BFloat16Bits.Narrow(BitConverter.UInt32BitsToSingle(bits)));

    [Fact]
    public void Widen_ThenNarrow_GivesEveryNonNaNPatternBack()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float wide = BFloat16Bits.Widen((ushort)bits);
            if (!float.IsNaN(wide)) Assert.Equal((ushort)bits, BFloat16Bits.Narrow(wide));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(1031)]
    [InlineData((1 << 16) + 3)]
    public void EmaTwin_OnBFloat16Gradients_MatchesTheFloat32FilterRoundedByLibTorch(int length) =>
        AssertMatchesFloat32Filter(length, (g, ema, constants) =>
        {
            fixed (ushort* gp = g)
            fixed (float* ep = ema)
                EmaBFloat16Kernels.FilterRange(gp, ep, g.Length, constants);
        });

    [Fact]
    public void EmaIlgpuKernelOnCpuAccelerator_OnBFloat16Gradients_MatchesTheFloat32FilterRoundedByLibTorch()
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<EmaConstants>, ArrayView<int>>(EmaBFloat16Kernels.Kernel);
        const int length = 1031;
        using MemoryBuffer1D<ushort, Stride1D.Dense> g = device.Allocate1D<ushort>(length);
        using MemoryBuffer1D<float, Stride1D.Dense> ema = device.Allocate1D<float>(length);
        using MemoryBuffer1D<EmaConstants, Stride1D.Dense> step = device.Allocate1D<EmaConstants>(1);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        skip.MemSetToZero();

        AssertMatchesFloat32Filter(length, (gradients, average, constants) =>
        {
            g.CopyFromCPU(gradients);
            ema.CopyFromCPU(average);
            step.CopyFromCPU([constants]);
            kernel(accelerator.GridStrideThreads(length), g.View, ema.View, step.View, skip.View);
            device.Synchronize();
            g.CopyToCPU(gradients);
            ema.CopyToCPU(average);
        });
    }

    /// <summary>
    /// Runs <paramref name="filter"/> on bfloat16 gradients for 30 steps beside the float32 twin on the widened gradients,
    /// whose results libtorch rounds to bfloat16: the gradients must agree bit for bit and the float32 averages exactly.
    /// </summary>
    private static void AssertMatchesFloat32Filter(int length, Action<ushort[], float[], EmaConstants> filter)
    {
        var average = new float[length];
        var reference = new float[length];
        bool changed = false;
        for (int step = 0; step < 30; step++)
        {
            EmaConstants constants = EmaConstants.For(0.98, 5.0, firstStep: step == 0);
            ushort[] g = LibTorchBFloat16(Gradients.Random(length, seed: step));
            float[] wide = g.Select(BFloat16Bits.Widen).ToArray();
            fixed (float* wp = wide, rp = reference)
                EmaKernels.FilterRange(wp, rp, length, constants);
            ushort[] expected = LibTorchBFloat16(wide);
            ushort[] raw = (ushort[])g.Clone();

            filter(g, average, constants);

            Assert.Equal(expected, g);
            Assert.Equal(reference, average);
            changed |= !raw.SequenceEqual(g);
        }
        Assert.True(changed, "the filter never changed a gradient");
    }

    /// <summary>libtorch's conversion of <paramref name="values"/> to bfloat16, as bit patterns.</summary>
    private static ushort[] LibTorchBFloat16(float[] values)
    {
        using var scope = torch.NewDisposeScope();
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(torch.tensor(values).to(ScalarType.BFloat16).bytes).ToArray();
    }

    /// <summary>200,000 random bit patterns and the edges: ties, zeros, subnormals, the largest finite, infinities, NaNs.</summary>
    private static float[] Patterns()
    {
        var random = new Random(7);
        var patterns = new List<uint>();
        for (int i = 0; i < 200_000; i++) patterns.Add((uint)random.NextInt64(0, 1L << 32));
        for (uint upper = 0; upper < 1 << 16; upper += 97)
            patterns.AddRange([upper << 16 | 0x8000, upper << 16 | 0x7FFF, upper << 16 | 0x8001, upper << 16]);
        patterns.AddRange([0, 0x8000_0000, 1, 0x0000_8000, 0x7F7F_FFFF, 0xFF7F_FFFF, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0xFF80_0001]);
        return patterns.Select(BitConverter.UInt32BitsToSingle).ToArray();
    }
}
