using System.Text;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// One ILGPU kernel compiled to PTX for a device and loaded into its primary context, launched as one
/// grid-stride pass per call on the legacy default stream — libtorch's stream — with no synchronisation.
/// The grid is as many blocks as the device holds at once for this kernel, as the driver's occupancy calculator
/// counts them (its registers included): a grid past that runs in a second, partial wave, whose blocks stream at a
/// fraction of the device's bandwidth while every block carries an equal share of the loop.
/// </summary>
internal sealed unsafe class CudaKernelModule : IDisposable
{
    /// <summary>Threads per block: a multiple of the warp that lets every multiprocessor hold several blocks.</summary>
    private const int ThreadsPerBlock = 256;

    private readonly CudaPrimaryContext context;
    private readonly CudaModuleHandle module;
    private readonly nint function;
    private readonly int residentThreadsPerMultiprocessor;
    private readonly int[] parameterSizes;

    /// <summary>Compiles <paramref name="kernel"/> (an ILGPU kernel's delegate) for the context's device and loads it; compilation never happens per step.</summary>
    public CudaKernelModule(CudaPrimaryContext context, Delegate kernel)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(kernel);
        this.context = context;
        parameterSizes = KernelArgument.ParameterSizes(kernel.Method);
        (ILGPU.Runtime.Cuda.CudaArchitecture architecture, ILGPU.Runtime.Cuda.CudaInstructionSet instructionSet) = context.PtxTarget;
        PtxKernel ptx = PtxCompiler.Compile(kernel.Method, architecture, instructionSet);
        byte[] image = Encoding.ASCII.GetBytes(ptx.Assembly + '\0');
        using (context.MakeCurrent())
        {
            module = CudaModuleHandle.Load(context.Handle, image);
            CheckOrUnload(context.Driver.ModuleGetFunction(out function, module.DangerousGetHandle(), ptx.EntryName), "cuModuleGetFunction");
            CheckOrUnload(context.Driver.OccupancyMaxActiveBlocksPerMultiprocessor(out int residentBlocks, function, ThreadsPerBlock),
                "cuOccupancyMaxActiveBlocksPerMultiprocessor");
            residentThreadsPerMultiprocessor = residentBlocks * ThreadsPerBlock;
        }
    }

    /// <summary>
    /// Queues one pass over <paramref name="elements"/> elements. <paramref name="arguments"/> are the kernel's
    /// parameters after its thread index, in order, each of the size its signature gives (checked: a mismatch throws
    /// before anything is queued); the pass is ordered after earlier work on libtorch's stream and before later work,
    /// and this call does not wait for it.
    /// </summary>
    public void Launch(long elements, params ReadOnlySpan<KernelArgument> arguments)
    {
        ObjectDisposedException.ThrowIf(module.IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(elements);
        CheckArguments(arguments);
        long blocks = GridStrideLaunch.Blocks(elements, context.Multiprocessors, residentThreadsPerMultiprocessor, ThreadsPerBlock);
        // ILGPU's implicitly grouped kernels take the launch's thread count first and retire threads past it.
        int threads = (int)(blocks * ThreadsPerBlock);
        void** parameters = stackalloc void*[arguments.Length + 1];
        parameters[0] = &threads;
        for (int i = 0; i < arguments.Length; i++) parameters[i + 1] = arguments[i].Value;
        using (context.MakeCurrent())
            context.Driver.Check(context.Driver.LaunchKernel(function, (uint)blocks, ThreadsPerBlock, CudaDriver.LegacyDefaultStream, parameters), "cuLaunchKernel");
    }

    private void CheckArguments(ReadOnlySpan<KernelArgument> arguments)
    {
        bool matches = arguments.Length == parameterSizes.Length;
        for (int i = 0; matches && i < arguments.Length; i++) matches = arguments[i].Size == parameterSizes[i];
        if (!matches)
        {
            string given = string.Join(", ", arguments.ToArray().Select(a => a.Size));
            throw new ArgumentException($"The kernel takes parameters of {string.Join(", ", parameterSizes)} bytes; the launch gave {given}.", nameof(arguments));
        }
    }

    // A failed call after the module was loaded unloads it before throwing, so a failed construction leaves nothing loaded.
    private void CheckOrUnload(int result, string call)
    {
        if (result == 0) return;
        module.Dispose();
        context.Driver.Check(result, call);
    }

    /// <summary>Unloads the module. Never throws.</summary>
    public void Dispose() => module.Dispose();
}
