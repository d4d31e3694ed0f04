using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// A driver object that lives in a primary context (a module, an allocation, an event): released exactly once, with
/// its context current, and holding a reference to the context so the context outlives it. A failed release is
/// reported to the runtime, never thrown: <c>Dispose</c> does not throw.
/// </summary>
internal abstract class CudaContextBoundHandle : SafeHandle
{
    private readonly CudaContextHandle context;

    private protected CudaContextBoundHandle(CudaContextHandle context)
        : base(0, ownsHandle: true)
    {
        this.context = context;
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    private protected ICudaDriver Driver => context.Driver;

    /// <summary>Takes ownership of <paramref name="value"/>, just created, and a reference to the context.</summary>
    private protected void Own(nint value)
    {
        bool added = false;
        context.DangerousAddRef(ref added);
        SetHandle(value);
    }

    /// <summary>Frees <paramref name="value"/> with the context current; returns the driver's result.</summary>
    private protected abstract int Free(nint value);

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        try
        {
            if (Driver.CtxPushCurrent(context.DangerousGetHandle()) != 0) return false;
            int result = Free(handle);
            Driver.CtxPopCurrent(out _);
            return result == 0;
        }
        finally
        {
            context.DangerousRelease();
        }
    }
}
