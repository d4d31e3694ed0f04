using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Parameter = TorchSharp.Modules.Parameter;

namespace Grokfast.Tests.Interop;

/// <summary>
/// The filters on TorchSharp CUDA tensors, end to end: libtorch's gradients filtered in place by the CUDA kernels,
/// bit for bit as the CPU twins filter the same gradients, and the non-finite guard on the GPU. Skipped without a
/// GPU, and without a CUDA build of libtorch (tools/gpu/run.sh puts the GPU machine's PyTorch libraries first).
/// </summary>
[Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
public sealed class CudaFilterTests
{
    private const int Steps = 12;

    [CudaFact]
    public void EmaOnCudaTensors_OverManySteps_MatchesTheCpuFilterOnTheSameGradients() => AssertMatchesCpuFilter("ema");

    [CudaFact]
    public void WindowedMeanOnCudaTensors_OverManySteps_MatchesTheCpuFilterOnTheSameGradients() => AssertMatchesCpuFilter("ma");

    [CudaFact]
    public void KalmanOnCudaTensors_OverManySteps_MatchesTheCpuFilterOnTheSameGradients() => AssertMatchesCpuFilter("kalman");

    [CudaFact]
    public void GuardedStepOnCudaTensors_WithANaN_LeavesStateAndGradientsBitIdentical()
    {
        SkipUnlessLibTorchHasCuda();
        foreach (string kind in new[] { "ema", "ma", "kalman" })
        {
            using var model = TinyMlp.Create().to(torch.CUDA);
            (Tensor x, Tensor y) = TinyMlp.Data();
            using Tensor gx = x.cuda(), gy = y.cuda();
            TinyMlp.Backward(model, gx, gy);
            using GradientFilter grokfast = Create(kind, model, KernelBackend.Auto);
            grokfast.step();
            TinyMlp.Backward(model, gx, gy);
            using (torch.no_grad()) model.parameters().ToArray()[2].grad!.view(-1)[5] = float.NaN;
            GradientFilterState before = grokfast.state_dict();
            float[] gradientsBefore = Gradients(model);

            grokfast.step();

            Assert.True(grokfast.LastStepSkipped, kind);
            GradientFilterState after = grokfast.state_dict();
            Assert.Equal(before.StepCount, after.StepCount);
            foreach (string name in before.Buffers.Keys) Assert.Equal(before.Buffers[name], after.Buffers[name]);
            Assert.Equal(gradientsBefore, Gradients(model));
        }
    }

    [CudaFact]
    public void CheckpointOfCudaState_SavedAndLoadedThroughAFile_RestoresTheStateAndContinuesAsTheRunThatNeverStopped()
    {
        SkipUnlessLibTorchHasCuda();
        string folder = Directory.CreateTempSubdirectory("grokfast-cuda-checkpoint-").FullName;
        try
        {
            foreach (string kind in new[] { "ema", "ma", "kalman" })
            {
                using var model = TinyMlp.Create().to(torch.CUDA);
                (Tensor x, Tensor y) = TinyMlp.Data();
                using Tensor gx = x.cuda(), gy = y.cuda();
                using GradientFilter grokfast = Create(kind, model, KernelBackend.Auto);
                string path = Path.Combine(folder, kind + ".gfst");
                for (int step = 0; step < 3; step++)
                {
                    TinyMlp.Backward(model, gx, gy);
                    grokfast.step();
                }
                GradientFilterState saved = grokfast.state_dict();
                grokfast.save(path);
                TinyMlp.Backward(model, gx, gy);
                grokfast.step(); // moves the state on, on the device, for the load to undo

                grokfast.load(path); // streams into the device tensors through host chunks

                StateAssert.Same(saved, grokfast.state_dict());
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [CudaFact]
    public void CudaFilters_WithSkippedStepsAndAParameterLeftOut_TrackTheCpuFiltersStepByStep()
    {
        SkipUnlessLibTorchHasCuda();
        foreach (string kind in new[] { "ema", "ma", "kalman" })
        {
            using var cpuModel = TinyMlp.Create();
            using var gpuModel = TinyMlp.Create().to(torch.CUDA);
            (Tensor x, Tensor y) = TinyMlp.Data();
            using Tensor gx = x.cuda(), gy = y.cuda();
            Parameter[] cpuParameters = cpuModel.parameters().ToArray();
            Parameter[] gpuParameters = gpuModel.parameters().ToArray();
            using GradientFilter cpu = Create(kind, cpuModel, KernelBackend.Cpu);
            using GradientFilter gpu = Create(kind, gpuModel, KernelBackend.Auto);

            for (int step = 0; step < Steps; step++)
            {
                TinyMlp.Backward(gpuModel, gx, gy);
                using (torch.no_grad())
                {
                    for (int i = 0; i < cpuParameters.Length; i++) cpuParameters[i].grad = gpuParameters[i].grad!.cpu();
                    // A loss-scaled step that overflowed, twice; a parameter the forward pass left out, twice.
                    if (step is 3 or 8) foreach (Parameter p in new[] { cpuParameters[1], gpuParameters[1] }) p.grad!.view(-1)[4] = float.NaN;
                    if (step is 5 or 6) foreach (Parameter p in new[] { cpuParameters[2], gpuParameters[2] }) p.grad = null;
                }

                cpu.step();
                gpu.step();

                for (int i = 0; i < cpuParameters.Length; i++)
                {
                    if (cpuParameters[i].grad is null) continue;
                    Assert.True(Flat(cpuParameters[i].grad!).SequenceEqual(Flat(gpuParameters[i].grad!)), $"{kind}, step {step}, parameter {i}");
                }
                if (step is 3 or 4 or 11)
                {
                    Assert.Equal(cpu.LastStepSkipped, gpu.LastStepSkipped);
                    Assert.Equal(cpu.StepCount, gpu.StepCount);
                    Assert.Equal(cpu.SkippedStepCount, gpu.SkippedStepCount);
                }
                foreach (Parameter p in gpuParameters) p.grad = null;
            }
            Assert.Equal(2, gpu.SkippedStepCount);
            GradientFilterState cpuState = cpu.state_dict(), gpuState = gpu.state_dict();
            Assert.Equal(cpuState.Parameters.Select(p => p.StepsFiltered), gpuState.Parameters.Select(p => p.StepsFiltered));
            foreach (string name in cpuState.Buffers.Keys) Assert.Equal(cpuState.Buffers[name], gpuState.Buffers[name]);
        }
    }

    [CudaFact]
    public void CudaFilters_OnAModelOfMixedDtypes_MatchTheCpuFiltersBitForBitThroughASkippedStep()
    {
        SkipUnlessLibTorchHasCuda();
        long[][] shapes = MixedDtypes.Shapes;
        ScalarType[] dtypes = MixedDtypes.Mixed;
        foreach (string kind in new[] { "ema", "ma", "kalman" })
        {
            using var cpuModel = new DtypeModule(shapes, dtypes);
            using var gpuModel = new DtypeModule(shapes, dtypes);
            gpuModel.to(torch.CUDA);
            using GradientFilter cpu = Create(kind, cpuModel, KernelBackend.Cpu);
            using GradientFilter gpu = Create(kind, gpuModel, KernelBackend.Auto);
            for (int step = 0; step < Steps; step++)
            {
                for (int i = 0; i < shapes.Length; i++)
                {
                    int length = (int)shapes[i].Aggregate(1L, (a, b) => a * b);
                    using Tensor values = torch.tensor(Support.Gradients.Random(length, seed: 100 * step + i)).reshape(shapes[i]).to(dtypes[i]);
                    // A float16 gradient that overflowed, once.
                    if (step == 4 && i == 2) values.view(-1)[1] = 70000f;
                    cpuModel.SetGradient(i, values);
                    gpuModel.SetGradient(i, values);
                }

                cpu.step();
                gpu.step();

                for (int i = 0; i < shapes.Length; i++) Assert.True(cpuModel.GradientBytes(i).SequenceEqual(gpuModel.GradientBytes(i)), $"{kind}, step {step}, parameter {i}");
            }
            Assert.Equal(1, gpu.SkippedStepCount);
            GradientFilterState cpuState = cpu.state_dict(), gpuState = gpu.state_dict();
            foreach (string name in cpuState.Buffers.Keys) Assert.Equal(cpuState.Buffers[name], gpuState.Buffers[name]);
        }
    }

    private static void AssertMatchesCpuFilter(string kind)
    {
        SkipUnlessLibTorchHasCuda();
        using var cpuModel = TinyMlp.Create();
        using var gpuModel = TinyMlp.Create().to(torch.CUDA);
        (Tensor x, Tensor y) = TinyMlp.Data();
        using Tensor gx = x.cuda(), gy = y.cuda();
        TinyMlp.Backward(cpuModel, x, y);
        TinyMlp.Backward(gpuModel, gx, gy);
        using GradientFilter cpu = Create(kind, cpuModel, KernelBackend.Cpu);
        using GradientFilter gpu = Create(kind, gpuModel, KernelBackend.Auto);
        Assert.Equal(KernelBackend.Cuda, gpu.Backend);
        using var optimizer = torch.optim.SGD(gpuModel.parameters(), 0.05);
        Parameter[] cpuParameters = cpuModel.parameters().ToArray();
        Parameter[] gpuParameters = gpuModel.parameters().ToArray();
        long copiesWhenBuilt = gpu.GradientCopies;

        for (int step = 0; step < Steps; step++)
        {
            optimizer.zero_grad();
            TinyMlp.Backward(gpuModel, gx, gy);
            // The CPU filter gets libtorch's CUDA gradients, copied into its own flat buffer's views.
            using (torch.no_grad())
                for (int i = 0; i < cpuParameters.Length; i++) cpuParameters[i].grad!.copy_(gpuParameters[i].grad!);

            gpu.step();
            cpu.step();

            Assert.Equal(Gradients(cpuModel), Gradients(gpuModel));
            optimizer.step();
        }
        // Zero-copy on the GPU too: libtorch's backward wrote into the flat buffer's views every step.
        Assert.Equal(copiesWhenBuilt, gpu.GradientCopies);
        GradientFilterState cpuState = cpu.state_dict(), gpuState = gpu.state_dict();
        foreach (string name in cpuState.Buffers.Keys) Assert.Equal(cpuState.Buffers[name], gpuState.Buffers[name]);
    }

    private static void SkipUnlessLibTorchHasCuda() =>
        Assert.SkipUnless(torch.cuda.is_available(), "This libtorch has no CUDA; tools/gpu/run.sh loads the GPU machine's PyTorch libraries.");

    private static GradientFilter Create(string kind, Module model, KernelBackend backend) => kind switch
    {
        "ema" => new EmaFilter(model, alpha: 0.98, lamb: 5.0, backend: backend),
        "ma" => new WindowedMeanFilter(model, window_size: 5, lamb: 5.0, backend: backend),
        _ => new KalmanFilter(model, lamb: 5.0, backend: backend),
    };

    private static float[] Flat(Tensor tensor)
    {
        using var scope = torch.NewDisposeScope();
        return tensor.detach().cpu().flatten().data<float>().ToArray();
    }

    private static float[] Gradients(Module model)
    {
        using var scope = torch.NewDisposeScope();
        return TinyMlp.Flatten(model.parameters().Select(p => p.grad!.cpu()));
    }
}
