namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// Device memory of a primary context, zeroed, copied in and out through the driver: for the GPU tests and the
/// <c>gpu-check</c> benchmark, which run the kernels without libtorch. (The filters use libtorch's memory.)
/// </summary>
internal sealed unsafe class CudaDeviceMemory : IDisposable
{
    private readonly CudaPrimaryContext context;

    public CudaDeviceMemory(CudaPrimaryContext context, long length, int elementSize = sizeof(float))
    {
        this.context = context;
        var bytes = (nuint)(length * elementSize);
        using (context.MakeCurrent())
        {
            CudaDriver.Check(CudaDriver.cuMemAlloc(out nint address, bytes), "cuMemAlloc");
            Address = address;
            CudaDriver.Check(CudaDriver.cuMemsetD32Async(address, 0, bytes / 4, CudaDriver.LegacyDefaultStream), "cuMemsetD32Async");
        }
    }

    public nint Address { get; }

    public void CopyFrom(float[] source)
    {
        using (context.MakeCurrent())
            fixed (float* data = source) CudaDriver.Check(CudaDriver.cuMemcpyHtoD(Address, data, (nuint)(source.Length * sizeof(float))), "cuMemcpyHtoD");
    }

    /// <summary>Waits for the work queued on the stream, then copies the first floats out.</summary>
    public float[] ToArray(int length)
    {
        var result = new float[length];
        using (context.MakeCurrent())
            fixed (float* data = result) CudaDriver.Check(CudaDriver.cuMemcpyDtoH(data, Address, (nuint)(length * sizeof(float))), "cuMemcpyDtoH");
        return result;
    }

    public void Dispose()
    {
        using (context.MakeCurrent()) CudaDriver.Check(CudaDriver.cuMemFree(Address), "cuMemFree");
    }
}
