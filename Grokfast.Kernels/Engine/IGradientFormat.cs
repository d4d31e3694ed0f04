using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// How a pass stores gradients and parameters of one format and computes with them in float32: widened exactly, narrowed
/// with round-to-nearest-even. A struct type argument, so the JIT and ILGPU specialise every pass per format; float32 is
/// the identity. (float64 computes in double and has passes of its own: see Float64.)
/// </summary>
/// <typeparam name="TStore">The element as stored: float, or a 16-bit format's bit pattern.</typeparam>
internal unsafe interface IGradientFormat<TStore> : IFiniteTest<TStore>
    where TStore : unmanaged
{
    /// <summary>The float32 value of <paramref name="value"/>.</summary>
    static abstract float Widen(TStore value);

    /// <summary><paramref name="value"/> rounded to the format.</summary>
    static abstract TStore Narrow(float value);

    /// <summary>Two vectors of float lanes from the 2 × <c>Vector&lt;float&gt;.Count</c> values at <paramref name="source"/>.</summary>
    static abstract (Vector<float> Low, Vector<float> High) LoadLanes(TStore* source);

    /// <summary>Two vectors of float lanes rounded to the format and stored at <paramref name="destination"/>.</summary>
    static abstract void StoreLanes(Vector<float> low, Vector<float> high, TStore* destination);
}

/// <summary>float32: stored as computed.</summary>
internal readonly unsafe struct Float32Format : IGradientFormat<float>
{

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Widen(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Narrow(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsFinite(float value) => float.IsFinite(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Vector<float> Low, Vector<float> High) LoadLanes(float* source) => (Vector.Load(source), Vector.Load(source + Vector<float>.Count));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreLanes(Vector<float> low, Vector<float> high, float* destination)
    {
        Vector.Store(low, destination);
        Vector.Store(high, destination + Vector<float>.Count);
    }

    // x - x is +0 for every finite x and NaN for NaN and ±infinity: no branch and no compare per lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<uint> NonFiniteLanes(float* source)
    {
        (Vector<float> low, Vector<float> high) = LoadLanes(source);
        return Vector.AsVectorUInt32((low - low) + (high - high));
    }
}

/// <summary>The 16-bit formats' non-finite test: a value is ±infinity or NaN exactly when its exponent bits are all set.</summary>
internal static unsafe class HalfExponent
{
    /// <summary>Whether <paramref name="value"/>'s exponent bits, <paramref name="mask"/>, are not all set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsFinite(ushort value, ushort mask) => (value & mask) != mask;

    /// <summary>Nonzero lanes where any of the 2 × <c>Vector&lt;float&gt;.Count</c> values at <paramref name="source"/> has every exponent bit set.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<uint> NonFiniteLanes(ushort* source, ushort mask)
    {
        var exponent = new Vector<ushort>(mask);
        return Vector.AsVectorUInt32(Vector.Equals(Vector.Load(source) & exponent, exponent));
    }
}
