using System.Numerics;

namespace Grokfast.Kernels.Engine;

/// <summary>A block of values of format <typeparamref name="TFormat"/> widened into float32 scratch, or rounded back: the CPU's way to run float32 code on 16-bit data in L1.</summary>
internal static unsafe class BlockConversion<TStore, TFormat>
    where TStore : unmanaged
    where TFormat : struct, IGradientFormat<TStore>
{
    /// <summary>The <paramref name="n"/> values at <paramref name="source"/> widened into <paramref name="destination"/>.</summary>
    public static void Widen(TStore* source, float* destination, int n)
    {
        int lanes = Vector<float>.Count, i = 0;
        for (; i <= n - 2 * lanes; i += 2 * lanes)
        {
            (Vector<float> low, Vector<float> high) = TFormat.LoadLanes(source + i);
            Float32Format.StoreLanes(low, high, destination + i);
        }
        for (; i < n; i++) destination[i] = TFormat.Widen(source[i]);
    }

    /// <summary>The <paramref name="n"/> floats at <paramref name="source"/> rounded into <paramref name="destination"/>.</summary>
    public static void Narrow(float* source, TStore* destination, int n)
    {
        int lanes = Vector<float>.Count, i = 0;
        for (; i <= n - 2 * lanes; i += 2 * lanes)
        {
            (Vector<float> low, Vector<float> high) = Float32Format.LoadLanes(source + i);
            TFormat.StoreLanes(low, high, destination + i);
        }
        for (; i < n; i++) destination[i] = TFormat.Narrow(source[i]);
    }
}
