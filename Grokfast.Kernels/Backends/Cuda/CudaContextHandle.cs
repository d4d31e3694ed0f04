using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// A retained reference to a device's primary context, released exactly once — by <c>Dispose</c>, or by the finalizer
/// if nobody disposed it — and only after every module, allocation and event made in it (they hold a reference).
/// </summary>
internal sealed class CudaContextHandle : SafeHandle
{
    private readonly int device;

    private CudaContextHandle(ICudaDriver driver, int device)
        : base(0, ownsHandle: true)
    {
        Driver = driver;
        this.device = device;
    }

    /// <summary>The driver the context was retained through; everything made in it uses the same.</summary>
    public ICudaDriver Driver { get; }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Retains the primary context of the driver's device <paramref name="device"/>.</summary>
    public static CudaContextHandle Retain(ICudaDriver driver, int device)
    {
        var retained = new CudaContextHandle(driver, device);
        driver.Check(driver.PrimaryCtxRetain(out nint context, device), "cuDevicePrimaryCtxRetain");
        retained.SetHandle(context);
        return retained;
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle() => Driver.PrimaryCtxRelease(device) == 0;
}
