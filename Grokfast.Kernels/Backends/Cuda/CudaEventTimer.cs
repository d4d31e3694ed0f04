namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>Times work queued on the legacy default stream with a pair of CUDA events: GPU time, not host time.</summary>
public sealed class CudaEventTimer : IDisposable
{
    private readonly CudaPrimaryContext context;
    private readonly CudaEventHandle start;
    private readonly CudaEventHandle stop;

    /// <summary>Creates the pair of events in <paramref name="context"/>.</summary>
    public CudaEventTimer(CudaPrimaryContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        this.context = context;
        using (context.MakeCurrent())
        {
            start = CudaEventHandle.Create(context.Handle);
            try
            {
                stop = CudaEventHandle.Create(context.Handle);
            }
            catch
            {
                start.Dispose();
                throw;
            }
        }
    }

    /// <summary>Milliseconds the GPU spent on what <paramref name="enqueue"/> queued.</summary>
    public float Measure(Action enqueue)
    {
        ICudaDriver driver = context.Driver;
        using (context.MakeCurrent()) driver.Check(driver.EventRecord(start.DangerousGetHandle(), CudaDriver.LegacyDefaultStream), "cuEventRecord");
        enqueue();
        using (context.MakeCurrent())
        {
            driver.Check(driver.EventRecord(stop.DangerousGetHandle(), CudaDriver.LegacyDefaultStream), "cuEventRecord");
            driver.Check(driver.EventSynchronize(stop.DangerousGetHandle()), "cuEventSynchronize");
            driver.Check(driver.EventElapsedTime(out float milliseconds, start.DangerousGetHandle(), stop.DangerousGetHandle()), "cuEventElapsedTime");
            return milliseconds;
        }
    }

    /// <summary>Queues a device-to-device copy of <paramref name="bytes"/> bytes: the bandwidth reference.</summary>
    public void EnqueueCopy(nint destination, nint source, long bytes)
    {
        using (context.MakeCurrent())
            context.Driver.Check(context.Driver.MemcpyDtoDAsync(destination, source, (nuint)bytes, CudaDriver.LegacyDefaultStream), "cuMemcpyDtoDAsync");
    }

    /// <summary>Destroys both events. Never throws.</summary>
    public void Dispose()
    {
        start.Dispose();
        stop.Dispose();
    }
}
