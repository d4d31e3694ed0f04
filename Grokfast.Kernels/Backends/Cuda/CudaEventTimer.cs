namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>Times work queued on the legacy default stream with a pair of CUDA events: GPU time, not host time.</summary>
internal sealed class CudaEventTimer : IDisposable
{
    private readonly CudaPrimaryContext context;
    private readonly nint start;
    private readonly nint stop;

    public CudaEventTimer(CudaPrimaryContext context)
    {
        this.context = context;
        using (context.MakeCurrent())
        {
            CudaDriver.Check(CudaDriver.cuEventCreate(out start, 0), "cuEventCreate");
            CudaDriver.Check(CudaDriver.cuEventCreate(out stop, 0), "cuEventCreate");
        }
    }

    /// <summary>Milliseconds the GPU spent on what <paramref name="enqueue"/> queued.</summary>
    public float Measure(Action enqueue)
    {
        using (context.MakeCurrent()) CudaDriver.Check(CudaDriver.cuEventRecord(start, CudaDriver.LegacyDefaultStream), "cuEventRecord");
        enqueue();
        using (context.MakeCurrent())
        {
            CudaDriver.Check(CudaDriver.cuEventRecord(stop, CudaDriver.LegacyDefaultStream), "cuEventRecord");
            CudaDriver.Check(CudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
            CudaDriver.Check(CudaDriver.cuEventElapsedTime(out float milliseconds, start, stop), "cuEventElapsedTime");
            return milliseconds;
        }
    }

    /// <summary>Queues a device-to-device copy of <paramref name="bytes"/> bytes: the bandwidth reference.</summary>
    public void EnqueueCopy(nint destination, nint source, long bytes)
    {
        using (context.MakeCurrent())
            CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync(destination, source, (nuint)bytes, CudaDriver.LegacyDefaultStream), "cuMemcpyDtoDAsync");
    }

    public void Dispose()
    {
        using (context.MakeCurrent())
        {
            CudaDriver.Check(CudaDriver.cuEventDestroy(start), "cuEventDestroy");
            CudaDriver.Check(CudaDriver.cuEventDestroy(stop), "cuEventDestroy");
        }
    }
}
