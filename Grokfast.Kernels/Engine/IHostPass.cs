namespace Grokfast.Kernels.Engine;

/// <summary>A fused pass over host memory (the CPU twin, or the ILGPU pass on ILGPU's CPU accelerator), bound to its buffers.</summary>
/// <typeparam name="TFilter">The filter's per-step constants.</typeparam>
public interface IHostPass<TFilter> : IDisposable
    where TFilter : unmanaged
{
    /// <summary>Steps elements [offset, offset + length) with <paramref name="constants"/>; returns when the writes are visible.</summary>
    void Run(long offset, long length, PassConstants<TFilter> constants);
}
