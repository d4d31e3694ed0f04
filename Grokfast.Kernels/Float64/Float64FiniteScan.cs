using Grokfast.Kernels.Backends;
using System.Numerics;

namespace Grokfast.Kernels.Float64;

/// <summary>
/// The non-finite guard on float64 gradients (see <see cref="FiniteScan"/>): a value is ±infinity or NaN exactly when its
/// exponent bits are all set, an integer test on the bit patterns. One read of the gradients, 8 bytes per element.
/// </summary>
internal static unsafe class Float64FiniteScan
{
    private const ulong ExponentMask = 0x7FF0_0000_0000_0000;

    /// <summary>True when none of the <paramref name="length"/> doubles at <paramref name="data"/> is NaN or ±Inf.</summary>
    public static bool AllFinite(nint data, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var job = new ScanJob((ulong*)data);
        CpuParallel.For(length, ref job);
        return !job.FoundNonFinite;
    }

    // Chunks only ever set the flag, and CpuParallel.For returns after every chunk is done, so plain writes are enough.
    private struct ScanJob(ulong* data) : IRangeJob
    {
        public bool FoundNonFinite;

        public void Run(long start, long count)
        {
            if (!RangeIsFinite(data + start, count)) FoundNonFinite = true;
        }
    }

    private static bool RangeIsFinite(ulong* data, long count)
    {
        var mask = new Vector<ulong>(ExponentMask);
        Vector<ulong> found = Vector<ulong>.Zero;
        long i = 0;
        for (; i <= count - Vector<ulong>.Count; i += Vector<ulong>.Count)
            found |= Vector.Equals(Vector.Load(data + i) & mask, mask);
        bool finite = Vector.EqualsAll(found, Vector<ulong>.Zero);
        for (; i < count; i++) finite &= (data[i] & ExponentMask) != ExponentMask;
        return finite;
    }
}
