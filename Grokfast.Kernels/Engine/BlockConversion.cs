using System.Numerics;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// A block of values of format <typeparamref name="TFromFormat"/> converted to <typeparamref name="TToFormat"/>: 16-bit
/// values widened into float32 scratch, or rounded back from it — the CPU's way to run float32 code on 16-bit data in L1.
/// </summary>
internal static unsafe class BlockConversion<TFrom, TFromFormat, TTo, TToFormat>
    where TFrom : unmanaged
    where TFromFormat : struct, IGradientFormat<TFrom>
    where TTo : unmanaged
    where TToFormat : struct, IGradientFormat<TTo>
{
    /// <summary>The <paramref name="n"/> values at <paramref name="source"/>, through float32 (exact one way, rounded once the other), into <paramref name="destination"/>.</summary>
    public static void Convert(TFrom* source, TTo* destination, int n)
    {
        int lanes = Vector<float>.Count, i = 0;
        for (; i <= n - 2 * lanes; i += 2 * lanes)
        {
            (Vector<float> low, Vector<float> high) = TFromFormat.LoadLanes(source + i);
            TToFormat.StoreLanes(low, high, destination + i);
        }
        for (; i < n; i++) destination[i] = TToFormat.Narrow(TFromFormat.Widen(source[i]));
    }
}
