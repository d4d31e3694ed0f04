using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// The CUDA driver, imported from its own soname (<c>libcuda.so.1</c>, present wherever the driver is, unlike the
/// <c>libcuda.so</c> development link). Loading the library happens at the first call; where it is missing that call
/// throws <see cref="DllNotFoundException"/>, which <see cref="CudaPrimaryContext.WhyUnavailable(int)"/> turns into a reason.
/// </summary>
internal sealed unsafe partial class NativeCudaDriver : ICudaDriver
{
    private const string Library = "libcuda.so.1";

    private NativeCudaDriver()
    {
    }

    /// <summary>The one instance.</summary>
    public static NativeCudaDriver Instance { get; } = new();

    public int Init(uint flags) => cuInit(flags);

    public int GetErrorName(int error, out nint name) => cuGetErrorName(error, out name);

    public int DeviceGetCount(out int count) => cuDeviceGetCount(out count);

    public int DeviceGet(out int device, int ordinal) => cuDeviceGet(out device, ordinal);

    public int DeviceGetAttribute(out int value, int attribute, int device) => cuDeviceGetAttribute(out value, attribute, device);

    public int PrimaryCtxRetain(out nint context, int device) => cuDevicePrimaryCtxRetain(out context, device);

    public int PrimaryCtxRelease(int device) => cuDevicePrimaryCtxRelease(device);

    public int CtxPushCurrent(nint context) => cuCtxPushCurrent(context);

    public int CtxPopCurrent(out nint context) => cuCtxPopCurrent(out context);

    public int ModuleLoadData(out nint module, byte* image) => cuModuleLoadData(out module, image);

    public int ModuleUnload(nint module) => cuModuleUnload(module);

    public int ModuleGetFunction(out nint function, nint module, string name) => cuModuleGetFunction(out function, module, name);

    public int LaunchKernel(nint function, uint blocks, uint threadsPerBlock, nint stream, void** parameters) =>
        cuLaunchKernel(function, blocks, 1, 1, threadsPerBlock, 1, 1, 0, stream, parameters, null);

    public int OccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, nint function, int threadsPerBlock) =>
        cuOccupancyMaxActiveBlocksPerMultiprocessor(out blocks, function, threadsPerBlock, 0);

    public int MemAlloc(out nint address, nuint bytes) => cuMemAlloc(out address, bytes);

    public int MemFree(nint address) => cuMemFree(address);

    public int MemsetD32Async(nint address, uint value, nuint count, nint stream) => cuMemsetD32Async(address, value, count, stream);

    public int MemcpyDtoH(void* destination, nint source, nuint bytes) => cuMemcpyDtoH(destination, source, bytes);

    public int MemcpyHtoD(nint destination, void* source, nuint bytes) => cuMemcpyHtoD(destination, source, bytes);

    public int MemcpyDtoDAsync(nint destination, nint source, nuint bytes, nint stream) => cuMemcpyDtoDAsync(destination, source, bytes, stream);

    public int EventCreate(out nint @event, uint flags) => cuEventCreate(out @event, flags);

    public int EventDestroy(nint @event) => cuEventDestroy(@event);

    public int EventRecord(nint @event, nint stream) => cuEventRecord(@event, stream);

    public int EventSynchronize(nint @event) => cuEventSynchronize(@event);

    public int EventElapsedTime(out float milliseconds, nint start, nint end) => cuEventElapsedTime(out milliseconds, start, end);

    [LibraryImport(Library)]
    private static partial int cuInit(uint flags);

    [LibraryImport(Library)]
    private static partial int cuGetErrorName(int error, out nint name);

    [LibraryImport(Library)]
    private static partial int cuDeviceGetCount(out int count);

    [LibraryImport(Library)]
    private static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(Library)]
    private static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(Library)]
    private static partial int cuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(Library, EntryPoint = "cuDevicePrimaryCtxRelease_v2")]
    private static partial int cuDevicePrimaryCtxRelease(int device);

    [LibraryImport(Library, EntryPoint = "cuCtxPushCurrent_v2")]
    private static partial int cuCtxPushCurrent(nint context);

    [LibraryImport(Library, EntryPoint = "cuCtxPopCurrent_v2")]
    private static partial int cuCtxPopCurrent(out nint context);

    [LibraryImport(Library)]
    private static partial int cuModuleLoadData(out nint module, byte* image);

    [LibraryImport(Library)]
    private static partial int cuModuleUnload(nint module);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int cuModuleGetFunction(out nint function, nint module, string name);

    [LibraryImport(Library)]
    private static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, void** parameters, void** extra);

    [LibraryImport(Library)]
    private static partial int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, nint function, int blockSize, nuint dynamicSharedBytes);

    [LibraryImport(Library, EntryPoint = "cuMemAlloc_v2")]
    private static partial int cuMemAlloc(out nint address, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cuMemFree_v2")]
    private static partial int cuMemFree(nint address);

    [LibraryImport(Library, EntryPoint = "cuMemsetD32Async")]
    private static partial int cuMemsetD32Async(nint address, uint value, nuint count, nint stream);

    [LibraryImport(Library, EntryPoint = "cuMemcpyDtoH_v2")]
    private static partial int cuMemcpyDtoH(void* destination, nint source, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cuMemcpyHtoD_v2")]
    private static partial int cuMemcpyHtoD(nint destination, void* source, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cuMemcpyDtoDAsync_v2")]
    private static partial int cuMemcpyDtoDAsync(nint destination, nint source, nuint bytes, nint stream);

    [LibraryImport(Library)]
    private static partial int cuEventCreate(out nint @event, uint flags);

    [LibraryImport(Library, EntryPoint = "cuEventDestroy_v2")]
    private static partial int cuEventDestroy(nint @event);

    [LibraryImport(Library)]
    private static partial int cuEventRecord(nint @event, nint stream);

    [LibraryImport(Library)]
    private static partial int cuEventSynchronize(nint @event);

    [LibraryImport(Library)]
    private static partial int cuEventElapsedTime(out float milliseconds, nint start, nint end);
}
