using Grokfast.Kernels.Engine;
using ILGPU;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// Whether every float is finite: the guard a filter runs before its pass, so a loss-scaled step that overflowed leaves
/// the filter's state untouched. One read of the gradients: 4 bytes per element (see <see cref="FiniteScan{TStore, TFormat}"/>
/// for every format).
/// </summary>
public static class FiniteScan
{
    /// <summary>True when none of the <paramref name="length"/> floats at <paramref name="data"/> is NaN or ±Inf.</summary>
    public static bool AllFinite(nint data, long length) => FiniteScan<float, Float32Format>.AllFinite(data, length);

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

/// <summary>
/// The non-finite guard on gradients of format <typeparamref name="TFormat"/> (float64 included): the host scan,
/// vectorised and split over cores, and its ILGPU twin, which the CUDA path runs (<see cref="Cuda.CudaStepState"/>) to
/// set the step's skip flag on the device.
/// </summary>
internal static unsafe class FiniteScan<TStore, TFormat>
    where TStore : unmanaged
    where TFormat : struct, IFiniteTest<TStore>
{
    /// <summary>True when none of the <paramref name="length"/> values at <paramref name="data"/> is NaN or ±Inf.</summary>
    public static bool AllFinite(nint data, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var job = new ScanJob((TStore*)data);
        CpuParallel.For(length, ref job);
        return !job.FoundNonFinite;
    }

    /// <summary>
    /// Thread <paramref name="thread"/> of a grid-stride scan: a thread that saw a NaN or ±Inf sets <c>found[0]</c> to 1.
    /// Threads only ever write 1, so the race between them is harmless.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<TStore> data, ArrayView<int> found)
    {
        long stride = Grid.DimX * Group.DimX;
        bool finite = true;
        for (long i = thread.X; i < data.Length; i += stride) finite &= TFormat.IsFinite(data[i]);
        if (!finite) found[0] = 1;
    }

    // Chunks only ever set the flag, and CpuParallel.For returns after every chunk is done, so plain writes are enough.
    private struct ScanJob(TStore* data) : IRangeJob
    {
        public bool FoundNonFinite;

        public void Run(long start, long count)
        {
            if (!RangeIsFinite(data + start, count)) FoundNonFinite = true;
        }
    }

    // Non-finite lanes are OR-ed into two vectors (two blocks an iteration, so loads overlap), so the loop needs no
    // branch per vector; the last block and the scalar tail finish the range.
    private static bool RangeIsFinite(TStore* data, long count)
    {
        int block = 2 * System.Numerics.Vector<float>.Count;
        System.Numerics.Vector<uint> found = default, also = default;
        long i = 0;
        for (; i <= count - 2 * block; i += 2 * block)
        {
            found |= TFormat.NonFiniteLanes(data + i);
            also |= TFormat.NonFiniteLanes(data + i + block);
        }
        bool finite = (found | also) == default;
        for (; i < count; i++) finite &= TFormat.IsFinite(data[i]);
        return finite;
    }
}
