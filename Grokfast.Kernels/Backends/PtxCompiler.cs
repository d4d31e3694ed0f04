using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// Compiles a kernel to PTX for a given CUDA architecture without a GPU or a driver. It proves on every
/// CI run that each kernel is valid CUDA code, and it is the first half of the CUDA path: ILGPU's
/// CudaAccelerator always creates a context of its own, so <see cref="Cuda.CudaKernelModule"/> loads this PTX
/// with the driver API into the device's primary context, libtorch's, and launches it on libtorch's stream.
/// Every floating-point add, subtract and multiply in the result rounds on its own (<see cref="PtxRounding"/>),
/// so the GPU agrees with the CPU twins bit for bit.
/// </summary>
internal static class PtxCompiler
{
    /// <summary>The PTX assembly of an implicitly grouped kernel (first parameter the thread index), with no contractible operation, and its entry point's name.</summary>
    public static PtxKernel Compile(MethodInfo kernel, CudaArchitecture architecture, CudaInstructionSet instructionSet)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        using Context context = Context.Create(builder => builder.Default());
        using var backend = new PTXBackend(context, architecture, instructionSet, nvvmAPI: null!);
        var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(kernel), KernelSpecialization.Empty);
        return new PtxKernel(PtxRounding.RoundEachOperation(compiled.PTXAssembly), compiled.Name);
    }
}
