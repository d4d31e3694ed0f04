using ILGPU.Runtime.Cuda;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// A CUDA device's primary context, retained while this object lives: the context libtorch (through the CUDA
/// runtime) allocates tensors in, so the filter's kernels read and write libtorch's memory directly, with no
/// second context. ILGPU's own <c>CudaAccelerator</c> always creates a context of its own, which is why the CUDA
/// path loads ILGPU's PTX itself (<see cref="CudaKernelModule"/>).
/// </summary>
public sealed class CudaPrimaryContext : IDisposable
{
    private readonly int handle;
    private readonly nint context;
    private bool disposed;

    private CudaPrimaryContext(int device, int handle, nint context)
    {
        Device = device;
        this.handle = handle;
        this.context = context;
        Multiprocessors = Attribute(CudaDriver.DeviceAttributeMultiprocessorCount);
        MaxThreadsPerMultiprocessor = Attribute(CudaDriver.DeviceAttributeMaxThreadsPerMultiprocessor);
        ComputeCapability = (Attribute(CudaDriver.DeviceAttributeComputeCapabilityMajor), Attribute(CudaDriver.DeviceAttributeComputeCapabilityMinor));
    }

    /// <summary>The device ordinal (libtorch's <c>cuda:N</c>).</summary>
    public int Device { get; }

    /// <summary>Streaming multiprocessors on the device.</summary>
    public int Multiprocessors { get; }

    /// <summary>Resident threads one multiprocessor holds at most.</summary>
    public int MaxThreadsPerMultiprocessor { get; }

    /// <summary>The device's compute capability, e.g. (9, 0) for an H100.</summary>
    public (int Major, int Minor) ComputeCapability { get; }

    /// <summary>
    /// The primary context of device <paramref name="device"/>; null where there is no CUDA driver or no such
    /// device, so a machine without a GPU runs everything else normally.
    /// </summary>
    public static CudaPrimaryContext? TryOpen(int device)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        if (!CudaDriver.IsAvailable) return null;
        if (CudaDriver.cuDeviceGetCount(out int count) != 0 || device >= count) return null;
        CudaDriver.Check(CudaDriver.cuDeviceGet(out int handle, device), "cuDeviceGet");
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(out nint context, handle), "cuDevicePrimaryCtxRetain");
        return new CudaPrimaryContext(device, handle, context);
    }

    /// <summary>
    /// The PTX target for this device: its own architecture, capped at what ILGPU 1.5.3 emits, with PTX ISA 8.0
    /// (CUDA 12.0 drivers and later), so the driver's JIT compiles it for the exact chip at load time.
    /// </summary>
    public (CudaArchitecture Architecture, CudaInstructionSet InstructionSet) PtxTarget =>
        (new CudaArchitecture(Math.Min(ComputeCapability.Major, 9), ComputeCapability.Major > 9 ? 0 : ComputeCapability.Minor), CudaInstructionSet.ISA_80);

    /// <summary>
    /// Makes the context current on this thread until the returned scope is disposed. Driver calls need a
    /// current context, and the thread that steps a filter need not have one: libtorch's backward ran on its
    /// own worker threads.
    /// </summary>
    public CurrentScope MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CudaDriver.Check(CudaDriver.cuCtxPushCurrent(context), "cuCtxPushCurrent");
        return new CurrentScope(context);
    }

    private int Attribute(int attribute)
    {
        CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(out int value, attribute, handle), "cuDeviceGetAttribute");
        return value;
    }

    /// <summary>Releases the retained context; libtorch keeps its own reference, so its memory stays.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRelease(handle), "cuDevicePrimaryCtxRelease");
    }

    /// <summary>Pops the context made current by <see cref="MakeCurrent"/>.</summary>
    public readonly ref struct CurrentScope
    {
        private readonly nint pushed;

        internal CurrentScope(nint pushed) => this.pushed = pushed;

        /// <summary>Restores the thread's previous context.</summary>
        public void Dispose()
        {
            CudaDriver.Check(CudaDriver.cuCtxPopCurrent(out nint popped), "cuCtxPopCurrent");
            // Something between push and pop left another context current: a bug to surface, not to hide.
            if (popped != pushed) throw new InvalidOperationException("The CUDA context stack was changed inside a Grokfast scope.");
        }
    }
}
