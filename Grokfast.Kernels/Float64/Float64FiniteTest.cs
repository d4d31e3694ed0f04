using Grokfast.Kernels.Engine;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Float64;

/// <summary>
/// The non-finite guard's test on float64 gradients: a value is ±infinity or NaN exactly when its exponent bits are all
/// set, an integer test on the bit patterns. One read of the gradients, 8 bytes per element.
/// </summary>
internal readonly unsafe struct Float64FiniteTest : IFiniteTest<double>
{
    private const ulong ExponentMask = 0x7FF0_0000_0000_0000;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsFinite(double value) => (BitConverter.DoubleToUInt64Bits(value) & ExponentMask) != ExponentMask;

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<uint> NonFiniteLanes(double* source)
    {
        // 2 × Vector<float>.Count doubles are four vectors of them.
        var mask = new Vector<ulong>(ExponentMask);
        ulong* bits = (ulong*)source;
        int lanes = Vector<ulong>.Count;
        Vector<ulong> found = Vector.Equals(Vector.Load(bits) & mask, mask) | Vector.Equals(Vector.Load(bits + lanes) & mask, mask)
            | Vector.Equals(Vector.Load(bits + 2 * lanes) & mask, mask) | Vector.Equals(Vector.Load(bits + 3 * lanes) & mask, mask);
        return Vector.AsVectorUInt32(found);
    }
}
