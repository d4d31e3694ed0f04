using System.Runtime.InteropServices;
using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Tests.Support;

/// <summary>
/// A CUDA driver with no GPU behind it: it hands out made-up handles, counts the contexts, modules, allocations and
/// events alive, and fails the call it is told to fail — so every partial construction can be tried on any machine.
/// </summary>
internal sealed unsafe class FakeCudaDriver : ICudaDriver
{
    /// <summary>The result a failed call returns (CUDA_ERROR_INVALID_VALUE), and the driver's name for it.</summary>
    public const int Failure = 1;

    public const string FailureName = "CUDA_ERROR_INVALID_VALUE";

    private static readonly nint FailureText = Marshal.StringToHGlobalAnsi(FailureName);

    private readonly Dictionary<string, int> calls = [];
    private nint nextHandle = 0x1000;
    private string? failing;
    private int failingOccurrence;

    /// <summary>What cuInit returns.</summary>
    public int InitResult { get; init; }

    /// <summary>Devices the driver reports.</summary>
    public int DeviceCount { get; init; } = 1;

    public int RetainedContexts { get; private set; }

    public int LoadedModules { get; private set; }

    public int Allocations { get; private set; }

    public int Events { get; private set; }

    /// <summary>Calls that make the host wait for the device: copies to the host and event synchronisations.</summary>
    public int HostWaits { get; private set; }

    /// <summary>Blocks of a kernel one multiprocessor holds at once, as the occupancy query reports them.</summary>
    public int ResidentBlocksPerMultiprocessor { get; init; } = 8;

    /// <summary>The grid of the last launch, in blocks.</summary>
    public uint LastLaunchBlocks { get; private set; }

    /// <summary>Kernels launched so far.</summary>
    public int Launches { get; private set; }

    /// <summary>Makes the <paramref name="occurrence"/>-th call to <paramref name="call"/> (the driver's name, e.g. cuMemAlloc) fail.</summary>
    public void Fail(string call, int occurrence = 1)
    {
        failing = call;
        failingOccurrence = occurrence;
    }

    public int Init(uint flags) => InitResult;

    public int GetErrorName(int error, out nint name)
    {
        name = FailureText;
        return 0;
    }

    public int DeviceGetCount(out int count)
    {
        count = DeviceCount;
        return Result("cuDeviceGetCount");
    }

    public int DeviceGet(out int device, int ordinal)
    {
        device = ordinal;
        return Result("cuDeviceGet");
    }

    public int DeviceGetAttribute(out int value, int attribute, int device)
    {
        value = attribute switch { 16 => 132, 75 => 9, _ => 0 };
        return Result("cuDeviceGetAttribute");
    }

    public int PrimaryCtxRetain(out nint context, int device) => Create("cuDevicePrimaryCtxRetain", out context, () => RetainedContexts++);

    public int PrimaryCtxRelease(int device) => Destroy("cuDevicePrimaryCtxRelease", () => RetainedContexts--);

    public int CtxPushCurrent(nint context) => Result("cuCtxPushCurrent");

    public int CtxPopCurrent(out nint context)
    {
        context = 0;
        return Result("cuCtxPopCurrent");
    }

    public int ModuleLoadData(out nint module, byte* image) => Create("cuModuleLoadData", out module, () => LoadedModules++);

    public int ModuleUnload(nint module) => Destroy("cuModuleUnload", () => LoadedModules--);

    public int ModuleGetFunction(out nint function, nint module, string name) => Create("cuModuleGetFunction", out function, () => { });

    public int LaunchKernel(nint function, uint blocks, uint threadsPerBlock, nint stream, void** parameters)
    {
        LastLaunchBlocks = blocks;
        Launches++;
        return Result("cuLaunchKernel");
    }

    public int OccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, nint function, int threadsPerBlock)
    {
        blocks = ResidentBlocksPerMultiprocessor;
        return Result("cuOccupancyMaxActiveBlocksPerMultiprocessor");
    }

    public int MemAlloc(out nint address, nuint bytes) => Create("cuMemAlloc", out address, () => Allocations++);

    public int MemFree(nint address) => Destroy("cuMemFree", () => Allocations--);

    public int MemsetD32Async(nint address, uint value, nuint count, nint stream) => Result("cuMemsetD32Async");

    public int MemcpyDtoH(void* destination, nint source, nuint bytes)
    {
        HostWaits++;
        NativeMemory.Clear(destination, bytes);
        return Result("cuMemcpyDtoH");
    }

    public int MemcpyHtoD(nint destination, void* source, nuint bytes) => Result("cuMemcpyHtoD");

    public int MemcpyDtoDAsync(nint destination, nint source, nuint bytes, nint stream) => Result("cuMemcpyDtoDAsync");

    public int EventCreate(out nint @event, uint flags) => Create("cuEventCreate", out @event, () => Events++);

    public int EventDestroy(nint @event) => Destroy("cuEventDestroy", () => Events--);

    public int EventRecord(nint @event, nint stream) => Result("cuEventRecord");

    public int EventSynchronize(nint @event)
    {
        HostWaits++;
        return Result("cuEventSynchronize");
    }

    public int EventElapsedTime(out float milliseconds, nint start, nint end)
    {
        milliseconds = 1;
        return Result("cuEventElapsedTime");
    }

    private int Create(string call, out nint handle, Action count)
    {
        int result = Result(call);
        handle = result == 0 ? nextHandle++ : 0;
        if (result == 0) count();
        return result;
    }

    // A failed release leaves the object alive, as the real driver would.
    private int Destroy(string call, Action count)
    {
        int result = Result(call);
        if (result == 0) count();
        return result;
    }

    private int Result(string call)
    {
        int made = calls[call] = calls.GetValueOrDefault(call) + 1;
        return call == failing && made == failingOccurrence ? Failure : 0;
    }
}
