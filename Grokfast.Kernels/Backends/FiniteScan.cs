using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// Whether every float is finite: the guard a filter runs before its pass, so a loss-scaled step that
/// overflowed leaves the filter's state untouched. One read of the gradients: 4 bytes per element. The host
/// scan is here; <see cref="Kernel"/> is its ILGPU twin, run on CUDA by <see cref="Cuda.CudaStepState"/>, where it
/// sets the step's skip flag on the device and <see cref="Record"/> counts the skipped steps.
/// </summary>
public static unsafe class FiniteScan
{
    /// <summary>True when none of the <paramref name="length"/> floats at <paramref name="data"/> is NaN or ±Inf.</summary>
    public static bool AllFinite(nint data, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var job = new ScanJob((float*)data);
        CpuParallel.For(length, ref job);
        return !job.FoundNonFinite;
    }

    // Chunks only ever set the flag, and CpuParallel.For returns after every chunk is done, so plain
    // writes are enough.
    private struct ScanJob(float* data) : IRangeJob
    {
        public bool FoundNonFinite;

        public void Run(long start, long count)
        {
            if (!RangeIsFinite(data + start, count)) FoundNonFinite = true;
        }
    }

    // x - x is 0 for every finite x and NaN for NaN and ±Inf; summing those differences stays 0 exactly
    // when all are finite, so the loop needs no branch per vector. Four independent sums keep the adds
    // from waiting on each other's latency, so the scan runs at memory speed.
    private static bool RangeIsFinite(float* data, long count)
    {
        Vector<float> sum0 = Vector<float>.Zero, sum1 = Vector<float>.Zero, sum2 = Vector<float>.Zero, sum3 = Vector<float>.Zero;
        int lanes = Vector<float>.Count;
        long i = 0;
        for (; i <= count - 4 * lanes; i += 4 * lanes)
        {
            Vector<float> a = Vector.Load(data + i), b = Vector.Load(data + i + lanes);
            Vector<float> c = Vector.Load(data + i + 2 * lanes), d = Vector.Load(data + i + 3 * lanes);
            sum0 += a - a;
            sum1 += b - b;
            sum2 += c - c;
            sum3 += d - d;
        }
        for (; i <= count - lanes; i += lanes)
        {
            Vector<float> v = Vector.Load(data + i);
            sum0 += v - v;
        }
        float tail = 0;
        for (; i < count; i++) tail += data[i] - data[i];
        return Vector.EqualsAll(sum0 + sum1 + sum2 + sum3, Vector<float>.Zero) && tail == 0;
    }

    /// <summary>
    /// Thread <paramref name="thread"/> of a grid-stride scan: a thread that saw a NaN or ±Inf sets
    /// <c>found[0]</c> to 1. Threads only ever write 1, so the race between them is harmless.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<float> data, ArrayView<int> found)
    {
        long stride = Grid.DimX * Group.DimX;
        bool finite = true;
        for (long i = thread.X; i < data.Length; i += stride) finite &= float.IsFinite(data[i]);
        if (!finite) found[0] = 1;
    }

    /// <summary>
    /// The CUDA path's record of a step, one thread after the scans: <c>outcome[0]</c> counts the steps skipped so
    /// far and <c>outcome[1]</c> says whether this one was, so the host reads them only when asked.
    /// </summary>
    internal static void Record(Index1D thread, ArrayView<int> skip, ArrayView<long> outcome)
    {
        if (thread.X != 0) return;
        long skipped = skip[0] != 0 ? 1 : 0;
        outcome[0] += skipped;
        outcome[1] = skipped;
    }
}
