using System.Numerics;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// Whether every float in host memory is finite: the guard a filter runs before its pass, so a loss-scaled
/// step that overflowed leaves the filter's state untouched. One read of the gradients: 4 bytes per element.
/// </summary>
public static unsafe class FiniteScan
{
    /// <summary>True when none of the <paramref name="length"/> floats at <paramref name="data"/> is NaN or ±Inf.</summary>
    public static bool AllFinite(nint data, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        float* start = (float*)data;
        int nonFinite = 0;
        CpuParallel.For(length, (offset, count) =>
        {
            if (!RangeIsFinite(start + offset, count)) Interlocked.Exchange(ref nonFinite, 1);
        });
        return nonFinite == 0;
    }

    // x - x is 0 for every finite x and NaN for NaN and ±Inf; summing those differences stays 0 exactly
    // when all are finite, so the loop needs no branch per vector.
    private static bool RangeIsFinite(float* data, long count)
    {
        Vector<float> sum = Vector<float>.Zero;
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
        {
            Vector<float> v = Vector.Load(data + i);
            sum += v - v;
        }
        float tail = 0;
        for (; i < count; i++) tail += data[i] - data[i];
        return Vector.EqualsAll(sum, Vector<float>.Zero) && tail == 0;
    }
}
