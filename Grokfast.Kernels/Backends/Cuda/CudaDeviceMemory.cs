namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// Zeroed device memory of a primary context, copied in and out through the driver: the finite scan's flag, and the
/// buffers of the GPU tests and the <c>gpu-check</c> benchmark, which run the kernels without libtorch. (The filters
/// themselves use libtorch's memory.)
/// </summary>
public sealed unsafe class CudaDeviceMemory : IDisposable
{
    private readonly CudaPrimaryContext context;
    private readonly CudaMemoryHandle memory;

    /// <summary>Allocates <paramref name="length"/> elements of <paramref name="elementSize"/> bytes (a multiple of 4) in the context and zeroes them.</summary>
    public CudaDeviceMemory(CudaPrimaryContext context, long length, int elementSize = sizeof(float))
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        this.context = context;
        var bytes = checked((nuint)(length * elementSize));
        using (context.MakeCurrent())
        {
            memory = CudaMemoryHandle.Allocate(context.Handle, bytes);
            int zeroed = context.Driver.MemsetD32Async(memory.DangerousGetHandle(), 0, bytes / 4, CudaDriver.LegacyDefaultStream);
            if (zeroed != 0)
            {
                memory.Dispose();
                context.Driver.Check(zeroed, "cuMemsetD32Async");
            }
        }
    }

    /// <summary>The device address of the first byte.</summary>
    public nint Address => memory.DangerousGetHandle();

    /// <summary>Copies <paramref name="source"/> to the start of the memory.</summary>
    public void CopyFrom(float[] source) => Write<float>(source);

    /// <summary>Waits for the work queued on the stream, then copies the first floats out.</summary>
    public float[] ToArray(int length)
    {
        var result = new float[length];
        Read<float>(result);
        return result;
    }

    /// <summary>Copies <paramref name="source"/> to the start of the memory; the copy is done when this returns.</summary>
    public void Write<T>(ReadOnlySpan<T> source)
        where T : unmanaged
    {
        using (context.MakeCurrent())
            fixed (T* data = source) context.Driver.Check(context.Driver.MemcpyHtoD(Address, data, (nuint)(source.Length * sizeof(T))), "cuMemcpyHtoD");
    }

    /// <summary>Waits for the work queued on the stream, then fills <paramref name="destination"/> from the start of the memory.</summary>
    public void Read<T>(Span<T> destination)
        where T : unmanaged
    {
        using (context.MakeCurrent())
            fixed (T* data = destination) context.Driver.Check(context.Driver.MemcpyDtoH(data, Address, (nuint)(destination.Length * sizeof(T))), "cuMemcpyDtoH");
    }

    /// <summary>Queues zeroing of the first <paramref name="words"/> 4-byte words on the stream.</summary>
    public void ZeroAsync(long words)
    {
        using (context.MakeCurrent())
            context.Driver.Check(context.Driver.MemsetD32Async(Address, 0, (nuint)words, CudaDriver.LegacyDefaultStream), "cuMemsetD32Async");
    }

    /// <summary>Frees the memory. Never throws.</summary>
    public void Dispose() => memory.Dispose();
}
