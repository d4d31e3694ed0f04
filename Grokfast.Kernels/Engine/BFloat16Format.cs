// bfloat16 is the upper half of a float32: widening shifts the bits up (exact); narrowing rounds the lower 16 bits away
// to nearest, ties to even, in integer arithmetic — the same operations on the CPU and in a kernel, so every backend
// rounds alike. A NaN stays a NaN (quiet, sign kept) instead of rounding into an infinity.
using ILGPU;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Engine;

/// <summary>Conversions between float32 and bfloat16 bit patterns, scalar (kernel code) and on vector lanes (the CPU twins).</summary>
internal readonly unsafe struct BFloat16Format : IGradientFormat<ushort>
{
    private const uint RoundingBias = 0x7FFF;
    private const uint QuietBit = 0x0040;
    private const uint MagnitudeMask = 0x7FFF_FFFF;
    private const uint Infinity = 0x7F80_0000;

    private const ushort ExponentMask = 0x7F80;


    /// <inheritdoc />
    public static bool IsFinite(ushort value) => HalfExponent.IsFinite(value, ExponentMask);

    /// <inheritdoc />
    public static Vector<uint> NonFiniteLanes(ushort* source) => HalfExponent.NonFiniteLanes(source, ExponentMask);

    /// <summary>The float32 value of the bfloat16 <paramref name="bits"/>: exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    /// <summary><paramref name="value"/> rounded to the nearest bfloat16, ties to even; NaN to a quiet NaN of the same sign.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Narrow(float value)
    {
        uint bits = Interop.FloatAsInt(value);
        if ((bits & MagnitudeMask) > Infinity) return (ushort)((bits >> 16) | QuietBit);
        return (ushort)((bits + RoundingBias + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary><see cref="Widen"/> on the 2 × <c>Vector&lt;float&gt;.Count</c> bfloat16 values at <paramref name="source"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector<float> Low, Vector<float> High) LoadLanes(ushort* source)
    {
        Vector.Widen(Vector.Load(source), out Vector<uint> low, out Vector<uint> high);
        return (Vector.AsVectorSingle(low << 16), Vector.AsVectorSingle(high << 16));
    }

    /// <summary><see cref="Narrow"/> on two vectors of floats, stored as 2 × <c>Vector&lt;float&gt;.Count</c> bfloat16 values at <paramref name="destination"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes(Vector<float> low, Vector<float> high, ushort* destination) =>
        Vector.Store(Vector.Narrow(NarrowBits(low), NarrowBits(high)), destination);

    // The rounded bfloat16 in the low 16 bits of each 32-bit lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<uint> NarrowBits(Vector<float> values)
    {
        Vector<uint> bits = Vector.AsVectorUInt32(values);
        Vector<uint> rounded = (bits + new Vector<uint>(RoundingBias) + ((bits >> 16) & Vector<uint>.One)) >> 16;
        Vector<uint> isNaN = Vector.GreaterThan(bits & new Vector<uint>(MagnitudeMask), new Vector<uint>(Infinity));
        return Vector.ConditionalSelect(isNaN, (bits >> 16) | new Vector<uint>(QuietBit), rounded);
    }
}
