using System.Runtime.InteropServices;

namespace Grokfast.Bench.Support;

/// <summary>glibc heap policy for the benchmarks, whose tensor-op baselines allocate and free tensors every step.</summary>
internal static partial class NativeHeap
{
    private const int MmapThreshold = -3;

    /// <summary>
    /// Serves every allocation over 128 KiB with its own mmap, returned to the system when freed. By default
    /// glibc raises that threshold after the first free, and the literal ports' allocate-free churn on
    /// libtorch's threads then fragments its heap until the process grows without bound (measured: +8 MB
    /// per step for the literal MA at 1 M elements; killed for lack of memory at 10 M). A no-op off Linux.
    /// </summary>
    public static void ReturnLargeBlocksToTheSystem()
    {
        if (OperatingSystem.IsLinux()) _ = mallopt(MmapThreshold, 128 * 1024);
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int parameter, int value);
}
