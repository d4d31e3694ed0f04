using System.Reflection;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using ILGPU.Runtime.Cuda;

namespace Grokfast.Tests.Kernels;

/// <summary>Every ILGPU kernel compiles to PTX for the GPUs we target, with no GPU or driver on the machine.</summary>
public sealed class PtxGenerationTests
{
    public static TheoryData<string> Kernels() => new(KernelMethods.Keys);

    private static readonly Dictionary<string, MethodInfo> KernelMethods = new()
    {
        ["ema"] = typeof(EmaKernels).GetMethod("Kernel", BindingFlags.NonPublic | BindingFlags.Static)!,
        ["ma"] = typeof(WindowedMeanKernels).GetMethod("Kernel", BindingFlags.NonPublic | BindingFlags.Static)!,
        ["kalman"] = typeof(KalmanKernels).GetMethod("Kernel", BindingFlags.NonPublic | BindingFlags.Static)!,
    };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_CompilesToPtxForHopper_WithA64BitGridStrideLoop(string name)
    {
        string ptx = PtxCompiler.Compile(KernelMethods[name], CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);

        Assert.Contains(".target sm_", ptx, StringComparison.Ordinal);
        Assert.Contains(".entry", ptx, StringComparison.Ordinal);
        Assert.Matches(@"\bld(\.global)?\.f32", ptx);
        Assert.Matches(@"\bst(\.global)?\.f32", ptx);
        // The element index is 64-bit: buffers over 2^31 elements need no second launch.
        Assert.Matches(@"add\.s64|add\.u64", ptx);
    }

    [Fact]
    public void WindowedMeanKernel_KeepsItsRunningSumInDoublePrecision()
    {
        string ptx = PtxCompiler.Compile(KernelMethods["ma"], CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);

        Assert.Contains(".f64", ptx, StringComparison.Ordinal);
    }
}
