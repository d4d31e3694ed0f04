namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// The CUDA driver-API calls the CUDA path makes, each returning a <c>CUresult</c> (0 on success). The real driver is
/// <see cref="NativeCudaDriver"/>; a context opened on another implementation hands it to everything built on it,
/// which is how the tests inject failures into every step of a construction without a GPU.
/// </summary>
internal unsafe interface ICudaDriver
{
    int Init(uint flags);

    int GetErrorName(int error, out nint name);

    int DeviceGetCount(out int count);

    int DeviceGet(out int device, int ordinal);

    int DeviceGetAttribute(out int value, int attribute, int device);

    int PrimaryCtxRetain(out nint context, int device);

    int PrimaryCtxRelease(int device);

    int CtxPushCurrent(nint context);

    int CtxPopCurrent(out nint context);

    int ModuleLoadData(out nint module, byte* image);

    int ModuleUnload(nint module);

    int ModuleGetFunction(out nint function, nint module, string name);

    int LaunchKernel(nint function, uint blocks, uint threadsPerBlock, nint stream, void** parameters);

    int OccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, nint function, int threadsPerBlock);

    int MemAlloc(out nint address, nuint bytes);

    int MemFree(nint address);

    int MemsetD32Async(nint address, uint value, nuint count, nint stream);

    int MemcpyDtoH(void* destination, nint source, nuint bytes);

    int MemcpyHtoD(nint destination, void* source, nuint bytes);

    int MemcpyDtoDAsync(nint destination, nint source, nuint bytes, nint stream);

    int EventCreate(out nint @event, uint flags);

    int EventDestroy(nint @event);

    int EventRecord(nint @event, nint stream);

    int EventSynchronize(nint @event);

    int EventElapsedTime(out float milliseconds, nint start, nint end);
}
