namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// The non-finite guard on CUDA: <see cref="FiniteScan.Kernel"/> over each range into one device flag, read
/// back once. That read is the CUDA path's only synchronisation: the host waits for the backward pass and the
/// scan to finish, because whether the step runs is decided on the host. Without the guard a step never waits.
/// </summary>
public sealed unsafe class CudaFiniteScan : IDisposable
{
    private readonly CudaPrimaryContext context;
    private readonly CudaKernelModule module;
    private readonly CudaDeviceMemory flag;
    private bool disposed;

    /// <summary>Loads the scan kernel and allocates its 4-byte flag in the context.</summary>
    public CudaFiniteScan(CudaPrimaryContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        this.context = context;
        module = new CudaKernelModule(context, FiniteScan.Kernel);
        try
        {
            flag = new CudaDeviceMemory(context, 1, sizeof(int));
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>Bytes of each kernel parameter after the thread count, as the PTX must declare them.</summary>
    internal static int[] ParameterSizes => [sizeof(DeviceView), sizeof(DeviceView)];

    /// <summary>Clears the flag; call before the first <see cref="Scan"/> of a step.</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using (context.MakeCurrent())
            context.Driver.Check(context.Driver.MemsetD32Async(flag.Address, 0, 1, CudaDriver.LegacyDefaultStream), "cuMemsetD32Async");
    }

    /// <summary>Queues a scan of <paramref name="length"/> floats of device memory at <paramref name="data"/>.</summary>
    public void Scan(nint data, long length)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0) return;
        var view = new DeviceView(data, length);
        var found = new DeviceView(flag.Address, 1);
        module.Launch(length, [(nint)(&view), (nint)(&found)]);
    }

    /// <summary>Waits for the scans queued since <see cref="Reset"/>; true when none found a NaN or ±Inf.</summary>
    public bool AllFinite()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        int found;
        // A copy to pageable host memory runs on the legacy stream and returns when it is done.
        using (context.MakeCurrent()) context.Driver.Check(context.Driver.MemcpyDtoH(&found, flag.Address, sizeof(int)), "cuMemcpyDtoH");
        return found == 0;
    }

    /// <summary>Unloads the kernel and frees the flag. Never throws.</summary>
    public void Dispose()
    {
        disposed = true;
        module.Dispose();
        flag.Dispose();
    }
}
