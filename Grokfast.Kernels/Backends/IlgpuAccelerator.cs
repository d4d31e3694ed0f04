using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// An ILGPU context and one accelerator, owned together and disposed together, plus the zero-copy
/// wrapping of memory that somebody else (libtorch) allocated.
/// </summary>
public sealed class IlgpuAccelerator : IDisposable
{
    private readonly Context context;

    private IlgpuAccelerator(Context context, Accelerator accelerator)
    {
        this.context = context;
        Accelerator = accelerator;
    }

    /// <summary>The accelerator kernels are loaded on and launched with.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>
    /// ILGPU's CPU accelerator: it emulates GPU threads, so the kernels that run on CUDA can be checked
    /// on a machine without a GPU. Meant for testing, not for speed.
    /// </summary>
    public static IlgpuAccelerator CreateCpu()
    {
        Context context = Context.Create(builder => builder.CPU());
        return new IlgpuAccelerator(context, context.CreateCPUAccelerator(0));
    }

    /// <summary>
    /// An accelerator on the first CUDA device ILGPU finds, in a CUDA context of ILGPU's own; null where
    /// there is no CUDA device or no driver.
    /// </summary>
    public static IlgpuAccelerator? TryCreateCuda()
    {
        Context context = Context.Create(builder => builder.Cuda());
        if (context.GetCudaDevices().Count == 0)
        {
            context.Dispose();
            return null;
        }
        return new IlgpuAccelerator(context, context.CreateCudaAccelerator(0));
    }

    /// <summary>
    /// Threads to launch for a grid-stride pass over <paramref name="length"/> elements: enough to fill
    /// every multiprocessor, never more than there are elements.
    /// </summary>
    public int GridStrideThreads(long length) =>
        (int)Math.Max(1, Math.Min(length, (long)Accelerator.NumMultiprocessors * Accelerator.MaxNumThreadsPerMultiprocessor));

    /// <summary>
    /// A view of <paramref name="length"/> floats at <paramref name="address"/>, which this accelerator
    /// can read and write, without copying: host memory on the CPU accelerator, device memory of this
    /// accelerator's CUDA context on CUDA. The returned buffer owns nothing; dispose it before the memory goes.
    /// </summary>
    public MemoryBuffer WrapFloats(nint address, long length) => Wrap(address, length, sizeof(float));

    /// <summary>As <see cref="WrapFloats"/>, for float64 elements.</summary>
    public MemoryBuffer WrapDoubles(nint address, long length) => Wrap(address, length, sizeof(double));

    private MemoryBuffer Wrap(nint address, long length, int elementSize) => Accelerator switch
    {
        CPUAccelerator => CPUMemoryBuffer.Create(Accelerator, address, length, elementSize),
        _ => new DevicePointerBuffer(Accelerator, address, length, elementSize),
    };

    /// <inheritdoc />
    public void Dispose()
    {
        Accelerator.Dispose();
        context.Dispose();
    }
}
