namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>Device memory allocated in a primary context, freed exactly once.</summary>
internal sealed class CudaMemoryHandle : CudaContextBoundHandle
{
    private CudaMemoryHandle(CudaContextHandle context)
        : base(context)
    {
    }

    /// <summary>Allocates <paramref name="bytes"/> bytes; the context must be current.</summary>
    public static CudaMemoryHandle Allocate(CudaContextHandle context, nuint bytes)
    {
        var allocated = new CudaMemoryHandle(context);
        context.Driver.Check(context.Driver.MemAlloc(out nint address, bytes), "cuMemAlloc");
        allocated.Own(address);
        return allocated;
    }

    private protected override int Free(nint value) => Driver.MemFree(value);
}
