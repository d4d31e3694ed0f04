using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Tests.Support;
using ILGPU.Runtime;

namespace Grokfast.Tests.Kernels;

public sealed class EmaCudaKernelTests
{
    [CudaFact]
    public void IlgpuKernelOnCuda_OverManySteps_MatchesCpuTwin()
    {
        const int length = 3_000_017;
        const int steps = 20;
        using IlgpuAccelerator cuda = IlgpuAccelerator.TryCreateCuda()!;
        using MemoryBuffer1D<float, ILGPU.Stride1D.Dense> g = cuda.Accelerator.Allocate1D<float>(length);
        using MemoryBuffer1D<float, ILGPU.Stride1D.Dense> e = cuda.Accelerator.Allocate1D<float>(length);
        using IGradientStateKernel<EmaConstants> gpuKernel = EmaKernels.CreateIlgpu(cuda);
        gpuKernel.Bind(g.NativePtr, e.NativePtr, length);
        using var twinG = new NativeFloats(length);
        using var twinE = new NativeFloats(length);
        using IGradientStateKernel<EmaConstants> twin = EmaKernels.CreateCpu();
        twin.Bind(twinG.Address, twinE.Address, length);

        for (int step = 0; step < steps; step++)
        {
            float[] gradient = Gradients.Random(length, seed: step);
            g.CopyFromCPU(gradient);
            gradient.CopyTo(twinG.Span);
            EmaConstants constants = EmaConstants.For(0.98, 2.0, firstStep: step == 0);

            gpuKernel.Filter(0, length, constants);
            twin.Filter(0, length, constants);

            FloatAssert.Close(twinG.Span, g.GetAsArray1D(), 1e-6, 1e-7, $"step {step}: ");
        }
    }
}
