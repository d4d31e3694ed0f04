using ILGPU.Runtime.Cuda;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// A CUDA device's primary context, retained while this object lives: the context libtorch (through the CUDA
/// runtime) allocates tensors in, so the filter's kernels read and write libtorch's memory directly, with no
/// second context. ILGPU's own <c>CudaAccelerator</c> always creates a context of its own, which is why the CUDA
/// path loads ILGPU's PTX itself (<see cref="CudaKernelModule"/>). Everything made in the context holds a reference
/// to it, so it is released after the last of them, whatever the order of disposal.
/// </summary>
public sealed class CudaPrimaryContext : IDisposable
{
    private CudaPrimaryContext(int device, CudaContextHandle handle, int multiprocessors, (int, int) computeCapability)
    {
        Device = device;
        Handle = handle;
        Multiprocessors = multiprocessors;
        ComputeCapability = computeCapability;
    }

    /// <summary>The device ordinal (libtorch's <c>cuda:N</c>).</summary>
    public int Device { get; }

    /// <summary>Streaming multiprocessors on the device.</summary>
    public int Multiprocessors { get; }

    /// <summary>The device's compute capability, e.g. (9, 0) for an H100.</summary>
    public (int Major, int Minor) ComputeCapability { get; }

    /// <summary>The retained context.</summary>
    internal CudaContextHandle Handle { get; }

    /// <summary>The driver everything in this context goes through.</summary>
    internal ICudaDriver Driver => Handle.Driver;

    /// <summary>
    /// The PTX target for this device: its own architecture, capped at what ILGPU 1.5.3 emits, with PTX ISA 8.0
    /// (CUDA 12.0 drivers and later), so the driver's JIT compiles it for the exact chip at load time.
    /// </summary>
    public (CudaArchitecture Architecture, CudaInstructionSet InstructionSet) PtxTarget =>
        (new CudaArchitecture(Math.Min(ComputeCapability.Major, 9), ComputeCapability.Major > 9 ? 0 : ComputeCapability.Minor), CudaInstructionSet.ISA_80);

    /// <summary>
    /// Retains the primary context of device <paramref name="device"/>. Throws <see cref="CudaUnavailableException"/>
    /// saying why where there is no driver or no such device, and <see cref="CudaDriverException"/> naming the call
    /// when the driver fails.
    /// </summary>
    public static CudaPrimaryContext Open(int device) => Open(NativeCudaDriver.Instance, device);

    /// <summary>Why device <paramref name="device"/> cannot be used (no driver, the driver failed to start, no such device); null when it can.</summary>
    public static string? WhyUnavailable(int device) => WhyUnavailable(NativeCudaDriver.Instance, device);

    internal static CudaPrimaryContext Open(ICudaDriver driver, int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        string? why = WhyUnavailable(driver, device);
        if (why is not null) throw new CudaUnavailableException($"CUDA device {device} cannot be used: {why}.");
        driver.Check(driver.DeviceGet(out int handle, device), "cuDeviceGet");
        // Queried before the context is retained, so a failing query leaves nothing to release.
        int multiprocessors = Attribute(driver, handle, CudaDriver.DeviceAttributeMultiprocessorCount);
        (int, int) capability = (Attribute(driver, handle, CudaDriver.DeviceAttributeComputeCapabilityMajor), Attribute(driver, handle, CudaDriver.DeviceAttributeComputeCapabilityMinor));
        return new CudaPrimaryContext(device, CudaContextHandle.Retain(driver, handle), multiprocessors, capability);
    }

    internal static string? WhyUnavailable(ICudaDriver driver, int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        int initialized;
        try
        {
            // Cheap after the first call, which loads the library and starts the driver.
            initialized = driver.Init(0);
        }
        catch (Exception error) when (error is DllNotFoundException or EntryPointNotFoundException)
        {
            return "the CUDA driver library (libcuda.so.1) cannot be loaded; is the NVIDIA driver installed?";
        }
        if (initialized != 0) return $"the CUDA driver did not start (cuInit: {driver.ErrorName(initialized)})";
        int counted = driver.DeviceGetCount(out int count);
        if (counted != 0) return $"the CUDA driver cannot count its devices (cuDeviceGetCount: {driver.ErrorName(counted)})";
        return device < count ? null : $"the CUDA driver sees {count} device{(count == 1 ? "" : "s")}";
    }

    /// <summary>
    /// Makes the context current on this thread until the returned scope is disposed. Driver calls need a
    /// current context, and the thread that steps a filter need not have one: libtorch's backward ran on its
    /// own worker threads.
    /// </summary>
    internal CurrentScope MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(Handle.IsClosed, this);
        Driver.Check(Driver.CtxPushCurrent(Handle.DangerousGetHandle()), "cuCtxPushCurrent");
        return new CurrentScope(Driver);
    }

    private static int Attribute(ICudaDriver driver, int device, int attribute)
    {
        driver.Check(driver.DeviceGetAttribute(out int value, attribute, device), "cuDeviceGetAttribute");
        return value;
    }

    /// <summary>Drops this object's reference to the context; libtorch keeps its own, so its memory stays. Never throws.</summary>
    public void Dispose() => Handle.Dispose();

    /// <summary>Pops the context made current by <see cref="MakeCurrent"/>.</summary>
    internal readonly ref struct CurrentScope
    {
        private readonly ICudaDriver driver;

        internal CurrentScope(ICudaDriver driver) => this.driver = driver;

        /// <summary>Restores the thread's previous context. Never throws: a failed pop leaves nothing to undo.</summary>
        public void Dispose() => driver.CtxPopCurrent(out _);
    }
}
