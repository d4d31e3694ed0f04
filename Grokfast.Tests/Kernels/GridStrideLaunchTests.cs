using Grokfast.Kernels.Backends;

namespace Grokfast.Tests.Kernels;

public sealed class GridStrideLaunchTests
{
    [Theory]
    [InlineData(1L, 132, 2048, 256, 1L)]            // one element: one block
    [InlineData(0L, 132, 2048, 256, 1L)]            // nothing to do still launches one block, which returns at once
    [InlineData(1_000L, 132, 2048, 256, 4L)]        // never more blocks than the elements need
    [InlineData(1_000_000_000L, 132, 2048, 256, 1_056L)] // an H100 filled once: 132 SMs × 8 resident blocks
    [InlineData(1_000_000_000L, 132, 1536, 256, 792L)]   // a kernel whose registers let an SM hold 6 blocks: no second wave
    [InlineData(1_000_000L, 2, 1024, 1, 2_048L)]    // ILGPU's CPU accelerator: threads, not blocks
    public void Blocks_FillTheDeviceOnceAndNoMoreThanTheElementsNeed(long length, int multiprocessors, int residentThreads, int threadsPerBlock, long expected)
    {
        Assert.Equal(expected, GridStrideLaunch.Blocks(length, multiprocessors, residentThreads, threadsPerBlock));
    }
}
