// The windowed mean on float64 gradients: a float64 ring and float64 running sums, lamb in double:
// sum += g - slot; slot = g; when the step applies, g += lamb * (sum * scale).
// Bytes per element: 48 (read g, slot, sum; write all three, 8 bytes each). The CPU twin only: float64 has no GPU path.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.WindowedMean;
using System.Numerics;

namespace Grokfast.Kernels.Float64;

/// <summary>
/// The windowed mean on float64 gradients, its vectorised CPU twin run over the cores. The step's slot, scale and whether
/// it applies come with each call, as for float32 gradients; lamb, which the float32 constants carry in float32, is the
/// filter's hyperparameter in double, given once.
/// </summary>
/// <param name="lamb">Amplification of the window's mean or sum.</param>
internal sealed unsafe class WindowedMeanFloat64Kernel(double lamb) : IDisposable
{
    /// <summary>Bytes one step moves per gradient element.</summary>
    public const int BytesPerElement = 48;

    private double* gradients;
    private double* ring;
    private double* sums;
    private long length;
    private int windowSize;

    /// <summary>Points the kernel at its float64 gradients, ring (<paramref name="windowSize"/> slots of <paramref name="length"/>) and sums.</summary>
    public void Bind(nint gradients, nint ring, nint sums, long length, int windowSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfLessThan(windowSize, 1);
        this.gradients = (double*)gradients;
        this.ring = (double*)ring;
        this.sums = (double*)sums;
        this.length = length;
        this.windowSize = windowSize;
    }

    /// <summary>Filters elements [offset, offset + length) with the step's slot, scale and whether it applies.</summary>
    public void Filter(long offset, long length, WindowedMeanConstants constants)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, this.length - offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(constants.Slot, windowSize);
        var job = new FilterJob(gradients + offset, ring + constants.Slot * this.length + offset, sums + offset, constants.Scale, lamb, constants.Apply != 0);
        CpuParallel.For(length, ref job);
    }

    /// <summary>Owns nothing to free.</summary>
    public void Dispose()
    {
        // Owns no memory: the buffers belong to the caller.
    }

    /// <summary>The pass over <paramref name="count"/> contiguous elements; <paramref name="slot"/> is this step's slot of the ring.</summary>
    internal static void FilterRange(double* g, double* slot, double* sum, long count, double scale, double lamb, bool apply)
    {
        var scales = new Vector<double>(scale);
        var lambs = new Vector<double>(lamb);
        long i = 0;
        for (; i <= count - Vector<double>.Count; i += Vector<double>.Count)
        {
            Vector<double> gi = Vector.Load(g + i);
            Vector<double> next = Vector.Load(sum + i) - Vector.Load(slot + i) + gi;
            Vector.Store(gi, slot + i);
            Vector.Store(next, sum + i);
            if (apply) Vector.Store(gi + lambs * (next * scales), g + i);
        }
        for (; i < count; i++)
        {
            double gi = g[i];
            double next = sum[i] - slot[i] + gi;
            slot[i] = gi;
            sum[i] = next;
            if (apply) g[i] = gi + lamb * (next * scale);
        }
    }

    private readonly struct FilterJob(double* g, double* slot, double* sum, double scale, double lamb, bool apply) : IRangeJob
    {
        public void Run(long start, long count) => FilterRange(g + start, slot + start, sum + start, count, scale, lamb, apply);
    }
}
