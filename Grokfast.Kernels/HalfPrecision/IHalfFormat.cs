using System.Numerics;

namespace Grokfast.Kernels.HalfPrecision;

/// <summary>
/// A 16-bit floating-point format a kernel reads gradients in and writes them back in: widened to float32 exactly,
/// narrowed with round-to-nearest-even. A struct type argument, so the JIT and ILGPU specialise each kernel per format.
/// </summary>
internal unsafe interface IHalfFormat
{
    /// <summary>The exponent's bits: all set exactly when the value is ±infinity or NaN.</summary>
    static abstract ushort ExponentMask { get; }

    /// <summary>The float32 value of <paramref name="bits"/>.</summary>
    static abstract float Widen(ushort bits);

    /// <summary><paramref name="value"/> rounded to the format.</summary>
    static abstract ushort Narrow(float value);

    /// <summary>Two vectors of float lanes from 2 × <c>Vector&lt;float&gt;.Count</c> values at <paramref name="source"/>.</summary>
    static abstract (Vector<float> Low, Vector<float> High) WidenLanes(ushort* source);

    /// <summary>Two vectors of float lanes rounded and stored at <paramref name="destination"/>.</summary>
    static abstract void NarrowLanes(Vector<float> low, Vector<float> high, ushort* destination);
}

/// <summary>bfloat16 (<see cref="BFloat16Bits"/>).</summary>
internal readonly unsafe struct BFloat16Format : IHalfFormat
{
    public static ushort ExponentMask => 0x7F80;

    public static float Widen(ushort bits) => BFloat16Bits.Widen(bits);

    public static ushort Narrow(float value) => BFloat16Bits.Narrow(value);

    public static (Vector<float> Low, Vector<float> High) WidenLanes(ushort* source) => BFloat16Bits.WidenLanes(source);

    public static void NarrowLanes(Vector<float> low, Vector<float> high, ushort* destination) => BFloat16Bits.NarrowLanes(low, high, destination);
}

/// <summary>IEEE float16 (<see cref="Float16Bits"/>).</summary>
internal readonly unsafe struct Float16Format : IHalfFormat
{
    public static ushort ExponentMask => 0x7C00;

    public static float Widen(ushort bits) => Float16Bits.Widen(bits);

    public static ushort Narrow(float value) => Float16Bits.Narrow(value);

    public static (Vector<float> Low, Vector<float> High) WidenLanes(ushort* source) => Float16Bits.WidenLanes(source);

    public static void NarrowLanes(Vector<float> low, Vector<float> high, ushort* destination) => Float16Bits.NarrowLanes(low, high, destination);
}
