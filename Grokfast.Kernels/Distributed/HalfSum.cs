using Grokfast.Kernels.Engine;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Distributed;

/// <summary>
/// The sum MPI applies to 16-bit gradients, which it has no type for: each pair of values widened to float32 (exact),
/// added, and rounded to the format once — the conversions every pass uses. MPI calls these as user-defined operations
/// over 16-bit integers; a ring all-reduce adds each rank's value in turn, as NCCL does for bfloat16 and float16.
/// </summary>
internal static unsafe class HalfSum
{
    /// <summary>MPI's user function for bfloat16: <c>accumulated[i] = incoming[i] + accumulated[i]</c>.</summary>
    [UnmanagedCallersOnly]
    public static void BFloat16(void* incoming, void* accumulated, int* count, nint* type) =>
        Add<BFloat16Format>((ushort*)incoming, (ushort*)accumulated, *count);

    /// <summary>MPI's user function for float16.</summary>
    [UnmanagedCallersOnly]
    public static void Float16(void* incoming, void* accumulated, int* count, nint* type) =>
        Add<Float16Format>((ushort*)incoming, (ushort*)accumulated, *count);

    /// <summary>Adds the <paramref name="count"/> values at <paramref name="incoming"/> into those at <paramref name="accumulated"/>, each sum rounded once.</summary>
    public static void Add<TFormat>(ushort* incoming, ushort* accumulated, long count)
        where TFormat : IGradientFormat<ushort>
    {
        long i = 0;
        int lanes = 2 * Vector<float>.Count;
        for (; i <= count - lanes; i += lanes)
        {
            (Vector<float> aLow, Vector<float> aHigh) = TFormat.LoadLanes(incoming + i);
            (Vector<float> bLow, Vector<float> bHigh) = TFormat.LoadLanes(accumulated + i);
            TFormat.StoreLanes(aLow + bLow, aHigh + bHigh, accumulated + i);
        }
        for (; i < count; i++)
            accumulated[i] = TFormat.Narrow(TFormat.Widen(incoming[i]) + TFormat.Widen(accumulated[i]));
    }
}
