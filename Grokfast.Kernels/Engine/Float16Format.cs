// IEEE binary16 in integer arithmetic (and one float addition for subnormals), the same operations on the CPU and in a
// kernel, so every backend rounds alike: narrowing rounds to nearest, ties to even, overflows to infinity and keeps a
// NaN a (quiet) NaN; widening is exact.
using ILGPU;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Engine;

/// <summary>Conversions between float32 and float16 bit patterns, scalar (kernel code) and on vector lanes (the CPU twins).</summary>
internal readonly unsafe struct Float16Format : IGradientFormat<ushort>
{
    private const uint MagnitudeMask = 0x7FFF_FFFF;
    private const uint Infinity = 0x7F80_0000;
    // |x| ≥ 65520, halfway between the largest float16 (65504) and 65536, rounds to infinity (ties to even go up here).
    private const uint FirstOverflow = 0x477F_F000;
    // Below 2^-14 the result is subnormal (or zero).
    private const uint SmallestNormal = 0x3880_0000;
    // Normal range: exponent rebased from 127 to 15 (wrapping add of (15 − 127) << 23), plus the rounding bias for the 13 bits dropped.
    private const uint RebiasAndRound = 0xC800_0FFF;
    // Subnormals: adding 0.5 puts float32's last mantissa bit at 2^-24, float16's subnormal step, so the hardware's
    // round-to-nearest-even addition does the rounding and the low bits hold the result.
    private const float SubnormalAlign = 0.5f;
    private const uint SubnormalAlignBits = 0x3F00_0000;

    private const ushort ExponentMask = 0x7C00;


    /// <inheritdoc />
    public static bool IsFinite(ushort value) => HalfExponent.IsFinite(value, ExponentMask);

    /// <inheritdoc />
    public static Vector<uint> NonFiniteLanes(ushort* source) => HalfExponent.NonFiniteLanes(source, ExponentMask);

    /// <summary>The float32 value of the float16 <paramref name="bits"/>: exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(ushort bits)
    {
        uint sign = (uint)(bits & 0x8000) << 16;
        uint magnitude = (uint)bits & 0x7FFF;
        if (magnitude >= 0x7C00) return Interop.IntAsFloat(sign | Infinity | (magnitude & 0x3FF) << 13);
        if (magnitude >= 0x0400) return Interop.IntAsFloat(sign | ((magnitude << 13) + 0x3800_0000));
        // Subnormal or zero: magnitude · 2^-24, exact in float32.
        return Interop.IntAsFloat(sign | Interop.FloatAsInt(magnitude * 5.9604644775390625e-8f));
    }

    /// <summary><paramref name="value"/> rounded to the nearest float16, ties to even; beyond the range to ±infinity; NaN to a quiet NaN of the same sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Narrow(float value)
    {
        uint bits = Interop.FloatAsInt(value);
        uint sign = (bits >> 16) & 0x8000;
        uint magnitude = bits & MagnitudeMask;
        if (magnitude > Infinity) return (ushort)(sign | 0x7E00);
        if (magnitude >= FirstOverflow) return (ushort)(sign | 0x7C00);
        if (magnitude < SmallestNormal)
            return (ushort)(sign | (Interop.FloatAsInt(Interop.IntAsFloat(magnitude) + SubnormalAlign) - SubnormalAlignBits));
        return (ushort)(sign | ((magnitude + RebiasAndRound + ((magnitude >> 13) & 1)) >> 13));
    }

    /// <summary><see cref="Widen"/> on the 2 × <c>Vector&lt;float&gt;.Count</c> float16 values at <paramref name="source"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector<float> Low, Vector<float> High) LoadLanes(ushort* source)
    {
        Vector.Widen(Vector.Load(source), out Vector<uint> low, out Vector<uint> high);
        return (WidenBits(low), WidenBits(high));
    }

    /// <summary><see cref="Narrow"/> on two vectors of floats, stored as 2 × <c>Vector&lt;float&gt;.Count</c> float16 values at <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes(Vector<float> low, Vector<float> high, ushort* destination) =>
        Vector.Store(Vector.Narrow(NarrowBits(low), NarrowBits(high)), destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> WidenBits(Vector<uint> bits)
    {
        Vector<uint> sign = (bits & new Vector<uint>(0x8000)) << 16;
        Vector<uint> magnitude = bits & new Vector<uint>(0x7FFF);
        Vector<uint> special = sign | new Vector<uint>(Infinity) | ((magnitude & new Vector<uint>(0x3FF)) << 13);
        Vector<uint> normal = sign | ((magnitude << 13) + new Vector<uint>(0x3800_0000));
        Vector<uint> subnormal = sign | Vector.AsVectorUInt32(Vector.ConvertToSingle(Vector.AsVectorInt32(magnitude)) * new Vector<float>(5.9604644775390625e-8f));
        Vector<uint> result = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(magnitude, new Vector<uint>(0x0400)), normal, subnormal);
        return Vector.AsVectorSingle(Vector.ConditionalSelect(Vector.GreaterThanOrEqual(magnitude, new Vector<uint>(0x7C00)), special, result));
    }

    // The rounded float16 in the low 16 bits of each 32-bit lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<uint> NarrowBits(Vector<float> values)
    {
        Vector<uint> bits = Vector.AsVectorUInt32(values);
        Vector<uint> sign = (bits >> 16) & new Vector<uint>(0x8000);
        Vector<uint> magnitude = bits & new Vector<uint>(MagnitudeMask);
        Vector<uint> normal = (magnitude + new Vector<uint>(RebiasAndRound) + ((magnitude >> 13) & Vector<uint>.One)) >> 13;
        Vector<uint> subnormal = Vector.AsVectorUInt32(Vector.AsVectorSingle(magnitude) + new Vector<float>(SubnormalAlign)) - new Vector<uint>(SubnormalAlignBits);
        Vector<uint> result = Vector.ConditionalSelect(Vector.LessThan(magnitude, new Vector<uint>(SmallestNormal)), subnormal, normal);
        result = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(magnitude, new Vector<uint>(FirstOverflow)), new Vector<uint>(0x7C00), result);
        result = Vector.ConditionalSelect(Vector.GreaterThan(magnitude, new Vector<uint>(Infinity)), new Vector<uint>(0x7E00), result);
        return sign | result;
    }
}
