using Grokfast.Kernels.Backends;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.HalfPrecision;

/// <summary>
/// The non-finite guard on 16-bit gradients (see <see cref="FiniteScan"/>): a value is ±infinity or NaN exactly when its
/// exponent bits are all set, an integer test that needs no conversion. One read of the gradients, 2 bytes per element.
/// </summary>
/// <typeparam name="TFormat">The 16-bit format.</typeparam>
internal static unsafe class HalfFiniteScan<TFormat>
    where TFormat : struct, IHalfFormat
{
    /// <summary>True when none of the <paramref name="length"/> values at <paramref name="data"/> is NaN or ±Inf.</summary>
    public static bool AllFinite(nint data, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var job = new ScanJob((ushort*)data);
        CpuParallel.For(length, ref job);
        return !job.FoundNonFinite;
    }

    /// <summary>Thread <paramref name="thread"/> of a grid-stride scan: a thread that saw a NaN or ±Inf sets <c>found[0]</c> to 1 (see FiniteScan.Kernel).</summary>
    internal static void Kernel(Index1D thread, ArrayView<ushort> data, ArrayView<int> found)
    {
        long stride = Grid.DimX * Group.DimX;
        int mask = TFormat.ExponentMask;
        bool finite = true;
        for (long i = thread.X; i < data.Length; i += stride) finite &= (data[i] & mask) != mask;
        if (!finite) found[0] = 1;
    }

    // Chunks only ever set the flag, and CpuParallel.For returns after every chunk is done, so plain writes are enough.
    private struct ScanJob(ushort* data) : IRangeJob
    {
        public bool FoundNonFinite;

        public void Run(long start, long count)
        {
            if (!RangeIsFinite(data + start, count)) FoundNonFinite = true;
        }
    }

    // Lanes whose exponent is all ones are OR-ed into one vector, so the loop needs no branch per vector.
    private static bool RangeIsFinite(ushort* data, long count)
    {
        var mask = new Vector<ushort>(TFormat.ExponentMask);
        Vector<ushort> found = Vector<ushort>.Zero;
        long i = 0;
        for (; i <= count - Vector<ushort>.Count; i += Vector<ushort>.Count)
            found |= Vector.Equals(Vector.Load(data + i) & mask, mask);
        bool finite = Vector.EqualsAll(found, Vector<ushort>.Zero);
        for (; i < count; i++) finite &= (data[i] & TFormat.ExponentMask) != TFormat.ExponentMask;
        return finite;
    }
}
