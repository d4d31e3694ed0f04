// The float64 filters' one pass: Vector<double> lanes over the range and a scalar tail, split over the cores, on the
// filter's own double math (IFloat64Step). Bytes per element: g, the estimate (and the sum) read and written, 8 each:
// 32 for the EMA and Kalman filters, 48 for the windowed mean. The CPU twin only: float64 has no GPU path.
using Grokfast.Kernels.Backends;
using System.Numerics;

namespace Grokfast.Kernels.Float64;

/// <summary>A float64 filter's pass over float64 gradients, its estimates (<paramref name="slots"/> slots of <paramref name="length"/>) and sums, in host memory.</summary>
internal sealed unsafe class Float64Pass<TFilter>(nint gradients, nint estimates, nint sums, long length, int slots)
    where TFilter : unmanaged, IFloat64Step<TFilter>
{
    /// <summary>Bytes one step moves per gradient element.</summary>
    public static int BytesPerElement => 4 * sizeof(double) + (TFilter.KeepsSum ? 2 * sizeof(double) : 0);

    /// <summary>Filters elements [offset, offset + count) with <paramref name="constants"/>; returns when the writes are visible.</summary>
    public void Run(long offset, long count, TFilter constants)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, length - offset);
        long slot = TFilter.EstimateOffset(constants, length);
        if (slot < 0 || slot > (slots - 1) * length)
            throw new ArgumentOutOfRangeException(nameof(constants), constants, $"The step's estimates start at {slot}, outside the {slots} slots of {length}.");
        var job = new Job((double*)gradients + offset, (double*)estimates + slot + offset, (double*)sums + offset, constants);
        CpuParallel.For(count, ref job);
    }

    private readonly struct Job(double* g, double* estimates, double* sums, TFilter constants) : IRangeJob
    {
        public void Run(long start, long count) => Twin(g + start, estimates + start, sums + start, count, constants);
    }

    private static void Twin(double* g, double* estimates, double* sums, long count, TFilter c)
    {
        bool reads = TFilter.ReadsEstimate(c), writes = TFilter.ChangesGradient(c);
        long i = 0;
        for (; i <= count - Vector<double>.Count; i += Vector<double>.Count)
        {
            Vector<double> estimate = reads ? Vector.Load(estimates + i) : default, sum = TFilter.KeepsSum ? Vector.Load(sums + i) : default;
            Vector<double> filtered = TFilter.Lanes(c, Vector.Load(g + i), ref estimate, ref sum);
            Vector.Store(estimate, estimates + i);
            if (TFilter.KeepsSum) Vector.Store(sum, sums + i);
            if (writes) Vector.Store(filtered, g + i);
        }
        for (; i < count; i++)
        {
            double estimate = reads ? estimates[i] : 0, sum = TFilter.KeepsSum ? sums[i] : 0;
            double filtered = TFilter.Element(c, g[i], ref estimate, ref sum);
            estimates[i] = estimate;
            if (TFilter.KeepsSum) sums[i] = sum;
            if (writes) g[i] = filtered;
        }
    }
}
