namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>A CUDA event created in a primary context, destroyed exactly once.</summary>
internal sealed class CudaEventHandle : CudaContextBoundHandle
{
    private CudaEventHandle(CudaContextHandle context)
        : base(context)
    {
    }

    /// <summary>Creates an event with timing; the context must be current.</summary>
    public static CudaEventHandle Create(CudaContextHandle context)
    {
        var created = new CudaEventHandle(context);
        context.Driver.Check(context.Driver.EventCreate(out nint @event, 0), "cuEventCreate");
        created.Own(@event);
        return created;
    }

    private protected override int Free(nint value) => Driver.EventDestroy(value);
}
