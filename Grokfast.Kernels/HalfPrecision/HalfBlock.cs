using System.Numerics;

namespace Grokfast.Kernels.HalfPrecision;

/// <summary>
/// Widens and narrows a short block of 16-bit values of format <typeparamref name="TFormat"/> to and from float32
/// scratch (a few hundred values, on the stack): how a float32 twin runs on 16-bit buffers without a float32 copy of them.
/// </summary>
/// <typeparam name="TFormat">The 16-bit format.</typeparam>
internal static unsafe class HalfBlock<TFormat>
    where TFormat : struct, IHalfFormat
{
    /// <summary>The <paramref name="count"/> values at <paramref name="source"/>, widened (exactly) into <paramref name="destination"/>.</summary>
    public static void Widen(ushort* source, float* destination, int count)
    {
        int width = Vector<float>.Count;
        int i = 0;
        for (; i <= count - 2 * width; i += 2 * width)
        {
            (Vector<float> low, Vector<float> high) = TFormat.WidenLanes(source + i);
            Vector.Store(low, destination + i);
            Vector.Store(high, destination + i + width);
        }
        for (; i < count; i++) destination[i] = TFormat.Widen(source[i]);
    }

    /// <summary>The <paramref name="count"/> floats at <paramref name="source"/>, rounded to nearest even into <paramref name="destination"/>.</summary>
    public static void Narrow(float* source, ushort* destination, int count)
    {
        int width = Vector<float>.Count;
        int i = 0;
        for (; i <= count - 2 * width; i += 2 * width)
            TFormat.NarrowLanes(Vector.Load(source + i), Vector.Load(source + i + width), destination + i);
        for (; i < count; i++) destination[i] = TFormat.Narrow(source[i]);
    }
}
