using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// 16-bit gradients, bfloat16 and float16: the conversions against libtorch's own rounding, the non-finite scan on every
/// pattern, and the EMA pass on them against the float32 filter run on the same (widened) inputs and rounded by libtorch —
/// bit for bit, twin and ILGPU pass.
/// </summary>
public sealed unsafe class HalfPrecisionTests
{
    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Narrow_OfRandomAndEdgeBitPatterns_RoundsAsLibTorchDoes(ScalarType format)
    {
        float[] values = Patterns();

        ushort[] expected = LibTorch(values, format);

        for (int i = 0; i < values.Length; i++)
        {
            ushort got = Narrow(format, values[i]);
            if (float.IsNaN(values[i])) Assert.True(float.IsNaN(Widen(format, got)), $"NaN {BitConverter.SingleToUInt32Bits(values[i]):X8} became {got:X4}");
            else Assert.True(expected[i] == got, $"{values[i]:R} ({BitConverter.SingleToUInt32Bits(values[i]):X8}): libtorch {expected[i]:X4}, ours {got:X4}");
        }
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Lanes_MatchTheScalarConversions(ScalarType format)
    {
        float[] values = Patterns();
        int block = 2 * System.Numerics.Vector<float>.Count;
        int length = values.Length / block * block;
        var narrowed = new ushort[length];
        var widened = new float[length];
        ushort[] halves = Enumerable.Range(0, length).Select(i => (ushort)(i * 7919)).ToArray();

        fixed (float* source = values, wide = widened)
        fixed (ushort* destination = narrowed, narrow = halves)
        {
            for (int i = 0; i < length; i += block)
            {
                var (low, high) = (System.Numerics.Vector.Load(source + i), System.Numerics.Vector.Load(source + i + block / 2));
                if (format == ScalarType.BFloat16) BFloat16Format.StoreLanes(low, high, destination + i);
                else Float16Format.StoreLanes(low, high, destination + i);
                var (wideLow, wideHigh) = format == ScalarType.BFloat16 ? BFloat16Format.LoadLanes(narrow + i) : Float16Format.LoadLanes(narrow + i);
                System.Numerics.Vector.Store(wideLow, wide + i);
                System.Numerics.Vector.Store(wideHigh, wide + i + block / 2);
            }
        }

        for (int i = 0; i < length; i++)
        {
            Assert.True(Narrow(format, values[i]) == narrowed[i], $"element {i}: {values[i]:R}");
            Assert.True(BitConverter.SingleToUInt32Bits(Widen(format, halves[i])) == BitConverter.SingleToUInt32Bits(widened[i]), $"widening {halves[i]:X4}");
        }
    }

    [Fact]
    public void Float16Widen_OfEveryPattern_IsSystemHalfsValue()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            float got = Float16Format.Widen((ushort)bits);
            Assert.True(float.IsNaN(expected) ? float.IsNaN(got) : BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(got), $"{bits:X4}");
        }
    }

    [Theory]
    [InlineData(0x3A00_1000u, (ushort)0x1000)] // 2^-11 · (1 + 2^-10 + …): a normal float16, rounded down.
    [InlineData(0x3380_0000u, (ushort)0x0001)] // 2^-24 · 1.0 exactly: the smallest subnormal.
    [InlineData(0x3300_0000u, (ushort)0x0000)] // 2^-25, halfway between 0 and the smallest subnormal: to the even 0.
    [InlineData(0x33C0_0000u, (ushort)0x0002)] // 1.5 · 2^-24, halfway between 1 and 2 subnormal steps: to the even 2.
    [InlineData(0x477F_EFFFu, (ushort)0x7BFF)] // just below 65520: the largest float16, 65504.
    [InlineData(0x477F_F000u, (ushort)0x7C00)] // 65520, halfway to 65536: to even, which is infinity.
    public void Float16Narrow_EdgesRoundToNearestEven(uint bits, ushort expected) =>
        Assert.Equal(expected, Float16Format.Narrow(BitConverter.UInt32BitsToSingle(bits)));

    [Theory]
    [InlineData(0x3F80_8000u, (ushort)0x3F80)] // 1 + 2^-8, halfway between 1 and 1 + 2^-7: to the even 1.
    [InlineData(0x3F81_8000u, (ushort)0x3F82)] // halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up, to the even one.
    [InlineData(0xBF80_8000u, (ushort)0xBF80)] // the same below zero.
    [InlineData(0x3F80_8001u, (ushort)0x3F81)] // just above halfway: up.
    [InlineData(0x7F7F_FFFFu, (ushort)0x7F80)] // the largest float rounds to infinity, as IEEE says.
    public void BFloat16Narrow_Ties_RoundToEven(uint bits, ushort expected) =>
        Assert.Equal(expected, BFloat16Format.Narrow(BitConverter.UInt32BitsToSingle(bits)));

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Widen_ThenNarrow_GivesEveryNonNaNPatternBack(ScalarType format)
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float wide = Widen(format, (ushort)bits);
            if (!float.IsNaN(wide)) Assert.Equal((ushort)bits, Narrow(format, wide));
        }
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 1, KernelBackend.Cpu)]
    [InlineData(ScalarType.BFloat16, 37, KernelBackend.Cpu)]
    [InlineData(ScalarType.BFloat16, 1031, KernelBackend.Cpu)]
    [InlineData(ScalarType.BFloat16, (1 << 16) + 3, KernelBackend.Cpu)]
    [InlineData(ScalarType.Float16, 37, KernelBackend.Cpu)]
    [InlineData(ScalarType.Float16, (1 << 16) + 3, KernelBackend.Cpu)]
    [InlineData(ScalarType.BFloat16, 1031, KernelBackend.IlgpuCpu)]
    [InlineData(ScalarType.Float16, 1031, KernelBackend.IlgpuCpu)]
    public void EmaPass_OnHalfGradients_MatchesTheFloat32FilterRoundedByLibTorch(ScalarType format, int length, KernelBackend backend)
    {
        using IlgpuAccelerator? accelerator = backend == KernelBackend.IlgpuCpu ? IlgpuAccelerator.CreateCpu() : null;
        var average = new float[length];
        var reference = new ScalarEma(length, 0.875f, 5f);
        bool changed = false;
        for (int step = 0; step < 30; step++)
        {
            EmaConstants constants = EmaConstants.For(0.875, 5.0, firstStep: step == 0);
            ushort[] g = LibTorch(Gradients.Random(length, seed: step), format);
            float[] wide = g.Select(bits => Widen(format, bits)).ToArray();
            reference.Step(wide);
            ushort[] expected = LibTorch(wide, format);
            ushort[] raw = (ushort[])g.Clone();

            fixed (ushort* gp = g)
            fixed (float* ap = average)
            {
                using IHostPass<EmaConstants> pass = Passes.CreateHost<EmaConstants>(accelerator, Format(format), PassUpdate.WriteBack,
                    PassBuffers.Filter((nint)gp, (nint)ap, 0, length, 1));
                pass.Run(0, length, new PassConstants<EmaConstants>(constants, default));
            }

            Assert.Equal(expected, g);
            Assert.Equal(reference.State, average);
            changed |= !raw.SequenceEqual(g);
        }
        Assert.True(changed, "the filter never changed a gradient");
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void FiniteScan_OfEveryPatternAtEveryLanePosition_FindsExactlyTheNonFiniteOnes(ScalarType format)
    {
        const int length = 67; // a few vectors and a scalar tail
        var data = new ushort[length];
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        var kernel = accelerator.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<int>>(
            format == ScalarType.BFloat16 ? FiniteScan<ushort, BFloat16Format>.Kernel : FiniteScan<ushort, Float16Format>.Kernel);
        using MemoryBuffer1D<ushort, Stride1D.Dense> device = accelerator.Accelerator.Allocate1D<ushort>(length);
        using MemoryBuffer1D<int, Stride1D.Dense> found = accelerator.Accelerator.Allocate1D<int>(1);

        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            Array.Fill(data, (ushort)0x3C00); // 1.0 in float16, 1.0078125 in bfloat16: finite either way
            int position = bits % length;
            data[position] = (ushort)bits;
            bool finite = float.IsFinite(Widen(format, (ushort)bits));
            fixed (ushort* p = data)
            {
                bool scanned = Format(format).AllFinite((nint)p, length);
                Assert.True(finite == scanned, $"{bits:X4} at {position}");
            }
            if (bits % 1021 != 0) continue;
            // The ILGPU kernel on a sample of the patterns (it is slow on the CPU accelerator).
            device.CopyFromCPU(data);
            found.MemSetToZero();
            kernel(accelerator.GridStrideThreads(length), device.View, found.View);
            accelerator.Accelerator.Synchronize();
            Assert.True(finite == (found.GetAsArray1D()[0] == 0), $"kernel: {bits:X4} at {position}");
        }
    }

    private static GradientFormat Format(ScalarType format) => format == ScalarType.BFloat16 ? GradientFormat.BFloat16 : GradientFormat.Float16;

    internal static float Widen(ScalarType format, ushort bits) => format == ScalarType.BFloat16 ? BFloat16Format.Widen(bits) : Float16Format.Widen(bits);

    private static ushort Narrow(ScalarType format, float value) => format == ScalarType.BFloat16 ? BFloat16Format.Narrow(value) : Float16Format.Narrow(value);

    /// <summary>libtorch's conversion of <paramref name="values"/> to <paramref name="format"/>, as bit patterns.</summary>
    internal static ushort[] LibTorch(float[] values, ScalarType format)
    {
        using var scope = torch.NewDisposeScope();
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(torch.tensor(values).to(format).bytes).ToArray();
    }

    /// <summary>200,000 random bit patterns and the edges of both formats: ties, zeros, subnormals, the largest finite, infinities, NaNs.</summary>
    private static float[] Patterns()
    {
        var random = new Random(7);
        var patterns = new List<uint>();
        for (int i = 0; i < 200_000; i++) patterns.Add((uint)random.NextInt64(0, 1L << 32));
        for (uint upper = 0; upper < 1 << 16; upper += 97)
            patterns.AddRange([upper << 16 | 0x8000, upper << 16 | 0x7FFF, upper << 16 | 0x8001, upper << 16]);
        // float16's range, 2^-27 to 2^18, with its ties (13 low bits 0x1000) and their neighbours, normal and subnormal.
        for (uint exponent = 100; exponent <= 145; exponent++)
        {
            for (int i = 0; i < 200; i++)
            {
                uint upper = (uint)random.Next(1 << 10) << 13;
                foreach (uint low in new uint[] { 0x1000, 0x0FFF, 0x1001, 0, (uint)random.Next(1 << 13) })
                    patterns.Add((uint)(random.Next(2) << 31) | exponent << 23 | upper | low);
            }
        }
        patterns.AddRange([0, 0x8000_0000, 1, 0x0000_8000, 0x7F7F_FFFF, 0xFF7F_FFFF, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0xFF80_0001]);
        return patterns.Select(BitConverter.UInt32BitsToSingle).ToArray();
    }
}
