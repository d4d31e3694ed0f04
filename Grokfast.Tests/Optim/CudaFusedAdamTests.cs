using Grokfast.Kernels.Backends;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Parameter = TorchSharp.Modules.Parameter;

namespace Grokfast.Tests.Optim;

/// <summary>
/// The fused optimizers on TorchSharp CUDA tensors: parameters, moments and filter state updated by the CUDA kernels bit
/// for bit as the CPU twin updates them from the same gradients, through skipped steps. Skipped without a GPU, and
/// without a CUDA build of libtorch (tools/gpu/run.sh puts the GPU machine's PyTorch libraries first).
/// </summary>
[Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
public sealed class CudaFusedAdamTests
{
    private const int Steps = 12;

    [CudaFact]
    public void FusedOptimizersOnCudaTensors_OverStepsWithASkip_MatchTheCpuTwinBitForBit()
    {
        Assert.SkipUnless(torch.cuda.is_available(), "This libtorch has no CUDA; tools/gpu/run.sh loads the GPU machine's PyTorch libraries.");
        foreach (string filter in new[] { "none", "ema", "ma", "kalman" })
        {
            foreach (bool decoupled in new[] { false, true })
            {
                using var cpuModel = TinyMlp.Create();
                using var gpuModel = TinyMlp.Create().to(torch.CUDA);
                (Tensor x, Tensor y) = TinyMlp.Data();
                using Tensor gx = x.cuda(), gy = y.cuda();
                using FusedAdamOptimizer cpu = Create(cpuModel, filter, decoupled, KernelBackend.Cpu);
                using FusedAdamOptimizer gpu = Create(gpuModel, filter, decoupled, KernelBackend.Auto);
                Assert.Equal(KernelBackend.Cuda, gpu.Backend);
                Parameter[] cpuParameters = cpuModel.parameters().ToArray(), gpuParameters = gpuModel.parameters().ToArray();

                for (int step = 0; step < Steps; step++)
                {
                    gpu.zero_grad();
                    TinyMlp.Backward(gpuModel, gx, gy);
                    using (torch.no_grad())
                    {
                        if (step == 4) gpuParameters[1].grad!.view(-1)[3] = float.NaN;
                        for (int i = 0; i < cpuParameters.Length; i++) cpuParameters[i].grad = gpuParameters[i].grad!.cpu();
                    }
                    cpu.step();
                    gpu.step();

                    string when = $"{filter}, {(decoupled ? "AdamW" : "Adam")}, step {step}";
                    Assert.Equal(cpu.LastStepSkipped, gpu.LastStepSkipped);
                    Assert.True(TinyMlp.Flatten(cpuParameters).SequenceEqual(TinyMlp.Flatten(gpuParameters.Select(p => p.cpu()))), $"{when}: parameters differ");
                }
                Assert.Equal(Steps - 1, gpu.StepCount);
                Assert.Equal(1, gpu.SkippedStepCount);
                Dictionary<string, float[]> cpuState = FusedAdamOptimizerTests.State(cpu), gpuState = FusedAdamOptimizerTests.State(gpu);
                foreach ((string name, float[] values) in cpuState) Assert.True(values.SequenceEqual(gpuState[name]), $"{filter}: {name} differs");
            }
        }
    }

    [CudaFact]
    public void FusedOptimizersOnMixedDtypeCudaTensors_MasterWeightsOnAndOff_MatchTheCpuTwinBitForBit()
    {
        Assert.SkipUnless(torch.cuda.is_available(), "This libtorch has no CUDA; tools/gpu/run.sh loads the GPU machine's PyTorch libraries.");
        ScalarType[] dtypes = MixedDtypes.Mixed;
        foreach (string filter in new[] { "none", "ema", "ma", "kalman" })
        {
            foreach (bool masterWeights in new[] { true, false })
            {
                using var cpuModel = new DtypeModule(MixedDtypes.Shapes, dtypes);
                using var gpuModel = new DtypeModule(MixedDtypes.Shapes, dtypes);
                MixedDtypes.SetValues(cpuModel, dtypes);
                MixedDtypes.SetValues(gpuModel, dtypes);
                gpuModel.to(torch.CUDA);
                using var cpu = new GrokfastAdamW(cpuModel, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter), backend: KernelBackend.Cpu, master_weights: masterWeights);
                using var gpu = new GrokfastAdamW(gpuModel, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter), backend: KernelBackend.Auto, master_weights: masterWeights);
                for (int step = 0; step < Steps; step++)
                {
                    MixedDtypes.SetGradients(cpuModel, dtypes, step);
                    MixedDtypes.SetGradients(gpuModel, dtypes, step);
                    cpu.step();
                    gpu.step();
                    for (int i = 0; i < dtypes.Length; i++)
                        Assert.True(cpuModel.ValueBytes(i).SequenceEqual(gpuModel.ValueBytes(i)), $"{filter}, master weights {masterWeights}, step {step}: parameter {i} differs");
                }
                Dictionary<string, float[]> cpuState = FusedAdamOptimizerTests.State(cpu), gpuState = FusedAdamOptimizerTests.State(gpu);
                foreach ((string name, float[] values) in cpuState) Assert.True(values.SequenceEqual(gpuState[name]), $"{filter}: {name} differs");
            }
        }
    }

    private static FusedAdamOptimizer Create(Module model, string filter, bool decoupled, KernelBackend backend) => decoupled
        ? new GrokfastAdamW(model, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter), backend: backend)
        : new GrokfastAdam(model, lr: 1e-2, weight_decay: 0.1, grokfast: FusedAdamTrainingTests.Choice(filter), backend: backend);
}
