using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// The few CUDA driver-API calls the CUDA path makes, imported from the driver's own soname
/// (<c>libcuda.so.1</c>, present wherever the driver is, unlike the <c>libcuda.so</c> development link).
/// Every call returns a <c>CUresult</c>; <see cref="Check"/> turns a failure into an exception that names
/// the call and the driver's name for the error.
/// </summary>
internal static unsafe partial class CudaDriver
{
    private const string Library = "libcuda.so.1";

    internal const int DeviceAttributeMaxThreadsPerMultiprocessor = 39;
    internal const int DeviceAttributeMultiprocessorCount = 16;
    internal const int DeviceAttributeComputeCapabilityMajor = 75;
    internal const int DeviceAttributeComputeCapabilityMinor = 76;

    /// <summary>
    /// The legacy default stream: work on it waits for, and is waited for by, every blocking stream of the
    /// context. It is libtorch's default stream, which TorchSharp never changes, so a launch here is ordered
    /// after the backward pass that wrote the gradients and before the optimizer step that reads them.
    /// </summary>
    internal static readonly nint LegacyDefaultStream = 0;

    private static readonly Lazy<bool> Initialized = new(() =>
    {
        try
        {
            return cuInit(0) == 0;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
    });

    /// <summary>True when the driver library loads and initialises (a GPU may still be absent).</summary>
    internal static bool IsAvailable => Initialized.Value;

    /// <summary>Throws <see cref="CudaDriverException"/> naming <paramref name="call"/> unless <paramref name="result"/> is CUDA_SUCCESS.</summary>
    internal static void Check(int result, string call)
    {
        if (result == 0) return;
        string name = cuGetErrorName(result, out nint text) == 0 && text != 0 ? Marshal.PtrToStringAnsi(text)! : $"error {result}";
        throw new CudaDriverException($"{call} failed: {name}.", result);
    }

    [LibraryImport(Library)]
    internal static partial int cuInit(uint flags);

    [LibraryImport(Library)]
    internal static partial int cuGetErrorName(int error, out nint name);

    [LibraryImport(Library)]
    internal static partial int cuDeviceGetCount(out int count);

    [LibraryImport(Library)]
    internal static partial int cuDeviceGet(out int device, int ordinal);

    [LibraryImport(Library)]
    internal static partial int cuDeviceGetAttribute(out int value, int attribute, int device);

    [LibraryImport(Library)]
    internal static partial int cuDevicePrimaryCtxRetain(out nint context, int device);

    [LibraryImport(Library, EntryPoint = "cuDevicePrimaryCtxRelease_v2")]
    internal static partial int cuDevicePrimaryCtxRelease(int device);

    [LibraryImport(Library, EntryPoint = "cuCtxPushCurrent_v2")]
    internal static partial int cuCtxPushCurrent(nint context);

    [LibraryImport(Library, EntryPoint = "cuCtxPopCurrent_v2")]
    internal static partial int cuCtxPopCurrent(out nint context);

    [LibraryImport(Library)]
    internal static partial int cuModuleLoadData(out nint module, byte* image);

    [LibraryImport(Library)]
    internal static partial int cuModuleUnload(nint module);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int cuModuleGetFunction(out nint function, nint module, string name);

    [LibraryImport(Library)]
    internal static partial int cuLaunchKernel(nint function, uint gridX, uint gridY, uint gridZ,
        uint blockX, uint blockY, uint blockZ, uint sharedBytes, nint stream, void** parameters, void** extra);

    [LibraryImport(Library, EntryPoint = "cuMemAlloc_v2")]
    internal static partial int cuMemAlloc(out nint address, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cuMemFree_v2")]
    internal static partial int cuMemFree(nint address);

    [LibraryImport(Library, EntryPoint = "cuMemsetD32Async")]
    internal static partial int cuMemsetD32Async(nint address, uint value, nuint count, nint stream);

    [LibraryImport(Library, EntryPoint = "cuMemcpyDtoH_v2")]
    internal static partial int cuMemcpyDtoH(void* destination, nint source, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cuMemcpyHtoD_v2")]
    internal static partial int cuMemcpyHtoD(nint destination, void* source, nuint bytes);

    [LibraryImport(Library, EntryPoint = "cuMemcpyDtoDAsync_v2")]
    internal static partial int cuMemcpyDtoDAsync(nint destination, nint source, nuint bytes, nint stream);

    [LibraryImport(Library)]
    internal static partial int cuEventCreate(out nint @event, uint flags);

    [LibraryImport(Library, EntryPoint = "cuEventDestroy_v2")]
    internal static partial int cuEventDestroy(nint @event);

    [LibraryImport(Library)]
    internal static partial int cuEventRecord(nint @event, nint stream);

    [LibraryImport(Library)]
    internal static partial int cuEventSynchronize(nint @event);

    [LibraryImport(Library)]
    internal static partial int cuEventElapsedTime(out float milliseconds, nint start, nint end);
}
