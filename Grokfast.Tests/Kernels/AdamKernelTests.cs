using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Tests.Support;
using ILGPU;
using ILGPU.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The fused Adam/AdamW step: its vectorised twin and its ILGPU kernel against a plain loop of TorchSharp's operations
/// bit for bit, and against TorchSharp's own Adam and AdamW within rounding.
/// </summary>
public sealed class AdamKernelTests
{
    private const int Steps = 100;

    public static TheoryData<int, double, bool> Cases()
    {
        var data = new TheoryData<int, double, bool>();
        foreach (int length in new[] { 1, 37, 1031, (1 << 16) + 3 })
        {
            data.Add(length, 0.0, false);
            data.Add(length, 0.01, false);
            data.Add(length, 0.01, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public unsafe void CpuTwin_OverManySteps_MatchesTheScalarLoopBitForBit(int length, double weightDecay, bool decoupled)
    {
        AdamSettings settings = Settings(weightDecay, decoupled);
        var oracle = new ScalarAdam(Gradients.Random(length, seed: 100), settings.Lr, settings.Beta1, settings.Beta2, settings.Eps, weightDecay, decoupled);
        float[] p = Gradients.Random(length, seed: 100), m = new float[length], v = new float[length];

        for (int step = 1; step <= Steps; step++)
        {
            float[] g = Gradients.Random(length, seed: step);
            fixed (float* gp = g, pp = p, mp = m, vp = v) AdamKernels.StepRange(gp, pp, mp, vp, length, settings.At(step));
            oracle.Step(g);

            FloatAssert.Close(oracle.Parameters, p, 0, 0, $"step {step}, parameters: ");
            FloatAssert.Close(oracle.FirstMoments, m, 0, 0, $"step {step}, m: ");
            FloatAssert.Close(oracle.SecondMoments, v, 0, 0, $"step {step}, v: ");
        }
    }

    [Theory]
    [InlineData(1031, 0.0, false)]
    [InlineData(1031, 0.01, false)]
    [InlineData(1031, 0.01, true)]
    public void IlgpuKernelOnCpuAccelerator_OverManySteps_MatchesTheScalarLoopBitForBit(int length, double weightDecay, bool decoupled)
    {
        AdamSettings settings = Settings(weightDecay, decoupled);
        var oracle = new ScalarAdam(Gradients.Random(length, seed: 100), settings.Lr, settings.Beta1, settings.Beta2, settings.Eps, weightDecay, decoupled);
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        Accelerator device = accelerator.Accelerator;
        var kernel = device.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<AdamConstants>, ArrayView<int>>(AdamKernels.Kernel);
        using MemoryBuffer1D<float, Stride1D.Dense> g = device.Allocate1D<float>(length), p = device.Allocate1D(Gradients.Random(length, seed: 100));
        using MemoryBuffer1D<float, Stride1D.Dense> m = device.Allocate1D<float>(length), v = device.Allocate1D<float>(length);
        using MemoryBuffer1D<AdamConstants, Stride1D.Dense> constants = device.Allocate1D<AdamConstants>(1);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = device.Allocate1D<int>(1);
        m.MemSetToZero();
        v.MemSetToZero();
        skip.MemSetToZero();

        for (int step = 1; step <= Steps; step++)
        {
            float[] gradient = Gradients.Random(length, seed: step);
            g.CopyFromCPU(gradient);
            constants.CopyFromCPU([settings.At(step)]);
            kernel(accelerator.GridStrideThreads(length), g.View, p.View, m.View, v.View, constants.View, skip.View);
            device.Synchronize();
            oracle.Step(gradient);

            FloatAssert.Close(oracle.Parameters, p.GetAsArray1D(), 0, 0, $"step {step}, parameters: ");
            FloatAssert.Close(oracle.SecondMoments, v.GetAsArray1D(), 0, 0, $"step {step}, v: ");
        }
    }

    [Theory]
    [InlineData(0.0, false)]
    [InlineData(0.01, false)]
    [InlineData(0.01, true)]
    public unsafe void CpuTwin_OverManySteps_TracksTorchSharpsOwnAdam(double weightDecay, bool decoupled)
    {
        const int length = 1031;
        AdamSettings settings = Settings(weightDecay, decoupled);
        float[] p = Gradients.Random(length, seed: 100), m = new float[length], v = new float[length];
        using var parameter = new TorchSharp.Modules.Parameter(torch.tensor(Gradients.Random(length, seed: 100)));
        using torch.optim.Optimizer optimizer = decoupled
            ? torch.optim.AdamW([parameter], settings.Lr, settings.Beta1, settings.Beta2, settings.Eps, weightDecay)
            : torch.optim.Adam([parameter], settings.Lr, settings.Beta1, settings.Beta2, settings.Eps, weightDecay);

        for (int step = 1; step <= Steps; step++)
        {
            float[] g = Gradients.Random(length, seed: step);
            using (torch.no_grad()) parameter.grad = torch.tensor(g);
            optimizer.step();
            fixed (float* gp = g, pp = p, mp = m, vp = v) AdamKernels.StepRange(gp, pp, mp, vp, length, settings.At(step));
        }

        // TorchSharp's tensor ops may fuse a multiply into an add (PyTorch's CPU kernels use FMA where the vector
        // units have it), so the two round differently in the last bit now and then; over 100 steps that stays
        // far below the size of one update (lr = 1e-2 here).
        FloatAssert.Close(parameter.detach().data<float>().ToArray(), p, 1e-5, 1e-6);
    }

    [Theory]
    [InlineData(typeof(AdamKernels))]
    [InlineData(typeof(EmaAdamKernels))]
    [InlineData(typeof(KalmanAdamKernels))]
    [InlineData(typeof(WindowedMeanAdamKernels))]
    public void Kernel_Ptx_RoundsEveryOperationOnItsOwn(Type kernels)
    {
        string ptx = PtxCompiler.Compile(kernels.GetMethod("Kernel", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!,
            ILGPU.Runtime.Cuda.CudaArchitecture.SM_90, ILGPU.Runtime.Cuda.CudaInstructionSet.ISA_80).Assembly;

        Assert.DoesNotMatch(@"\b(add|sub|mul)\.f(32|64)\b", ptx);
        Assert.DoesNotMatch(@"\b(fma|mad)(\.\w+)*\.f(32|64)\b", ptx);
        // IEEE square root and division, as the twin's.
        Assert.Matches(@"\bsqrt\.rn\.f32\b", ptx);
        Assert.Matches(@"\bdiv\.rn\.f32\b", ptx);
    }

    [Theory]
    [InlineData(0.9, 0.999)]
    [InlineData(0.9, 0.98)]
    [InlineData(0.99, 0.95)]
    public void At_PowersBySquaring_GiveTheFloatConstantsOfMathPow(double beta1, double beta2)
    {
        // The host and the CUDA prepare kernel take β^t by squaring (same bits on both); torch takes Math.Pow. The
        // doubles differ in their last bits at many steps, the float32 constants at none of the first 100,000.
        var settings = new AdamSettings(Lr: 1e-3, Beta1: beta1, Beta2: beta2, Eps: 1e-8, WeightDecay: 0, Decoupled: false);
        int doublesDiffer = 0;
        for (long step = 1; step <= 100_000; step++)
        {
            AdamConstants c = settings.At(step);
            Assert.Equal((float)Math.Sqrt(1 - Math.Pow(beta2, step)), c.BiasCorrection2Sqrt);
            Assert.Equal((float)(-(1e-3 / (1 - Math.Pow(beta1, step)))), c.NegativeStepSize);
            if (AdamSettings.Power(beta2, step) != Math.Pow(beta2, step)) doublesDiffer++;
        }
        Assert.True(doublesDiffer > 0, "the powers never differ, so this test shows nothing about the rounding to float32");
    }

    private static AdamSettings Settings(double weightDecay, bool decoupled) =>
        new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: weightDecay, Decoupled: decoupled);
}
