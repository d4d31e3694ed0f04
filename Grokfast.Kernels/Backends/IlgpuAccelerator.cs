using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// An ILGPU context and its CPU accelerator, owned together and disposed together: it emulates GPU threads,
/// so the kernels that run on CUDA are checked, as ILGPU code, on a machine without a GPU. Meant for testing,
/// not for speed. (On CUDA the kernels run in libtorch's own context instead: see <see cref="Cuda.CudaKernelModule"/>.)
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

    /// <summary>A new context with ILGPU's CPU accelerator.</summary>
    public static IlgpuAccelerator CreateCpu()
    {
        Context context = Context.Create(builder => builder.CPU());
        return new IlgpuAccelerator(context, context.CreateCPUAccelerator(0));
    }

    /// <summary>
    /// Threads to launch for a grid-stride pass over <paramref name="length"/> elements: enough to fill
    /// every multiprocessor, never more than there are elements.
    /// </summary>
    public int GridStrideThreads(long length) =>
        (int)GridStrideLaunch.Blocks(length, Accelerator.NumMultiprocessors, Accelerator.MaxNumThreadsPerMultiprocessor, threadsPerBlock: 1);

    /// <summary>
    /// A view of <paramref name="length"/> floats of host memory at <paramref name="address"/>, without copying.
    /// The returned buffer owns nothing; dispose it before the memory goes.
    /// </summary>
    public MemoryBuffer WrapFloats(nint address, long length) => Wrap<float>(address, length);

    /// <summary>As <see cref="WrapFloats"/>, for float64 elements.</summary>
    public MemoryBuffer WrapDoubles(nint address, long length) => Wrap<double>(address, length);

    /// <summary>As <see cref="WrapFloats"/>, for elements of type <typeparamref name="T"/> (16-bit gradients' bit patterns, say).</summary>
    internal unsafe MemoryBuffer Wrap<T>(nint address, long length)
        where T : unmanaged => CPUMemoryBuffer.Create(Accelerator, address, length, sizeof(T));

    /// <inheritdoc />
    public void Dispose()
    {
        Accelerator.Dispose();
        context.Dispose();
    }
}
