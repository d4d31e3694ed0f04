using Grokfast.Bench.Support;
using Grokfast.Bench.Throughput;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Optim;
using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Grokfast.Bench.Gpu;

/// <summary>
/// The fused optimizers on TorchSharp CUDA tensors: each against the same optimizer on the CPU twin fed the same
/// gradients (bit for bit), then its step timed with CUDA events against a device-to-device copy of its bytes.
/// </summary>
internal sealed class GpuOptimizerCheck(CudaPrimaryContext context, int steps)
{
    /// <summary>
    /// <paramref name="filter"/> (none, ema, ma or kalman) with AdamW on parameters of <paramref name="shapes"/>;
    /// with <paramref name="compare"/>, first <c>steps</c> steps against the CPU twin.
    /// </summary>
    public GpuFigures Measure(IReadOnlyList<long[]> shapes, string filter, bool compare)
    {
        long mismatches = compare ? CompareWithCpu(shapes, filter) : 0;
        using var model = new SyntheticModel(shapes, torch.CUDA);
        using FusedAdamOptimizer optimizer = Create(model, filter, KernelBackend.Auto);
        return GpuStepTiming.Measure(context, optimizer.ElementCount, optimizer.BytesPerElement, () => optimizer.step(), compare ? steps : 0, mismatches);
    }

    /// <summary>Parameter elements, over all steps, where the CUDA step's value differs from the CPU twin's at all.</summary>
    private long CompareWithCpu(IReadOnlyList<long[]> shapes, string filter)
    {
        using var gpuModel = new SyntheticModel(shapes, torch.CUDA);
        using var cpuModel = new SyntheticModel(shapes, torch.CPU);
        using FusedAdamOptimizer gpu = Create(gpuModel, filter, KernelBackend.Auto);
        using FusedAdamOptimizer cpu = Create(cpuModel, filter, KernelBackend.Cpu);
        Parameter[] gpuParameters = gpuModel.parameters().ToArray(), cpuParameters = cpuModel.parameters().ToArray();
        long mismatches = 0;
        for (int step = 0; step < steps; step++)
        {
            using (torch.no_grad())
            {
                // Fresh gradients each step, the same on both sides.
                var generator = new torch.Generator((ulong)(100 + step));
                for (int i = 0; i < gpuParameters.Length; i++)
                {
                    using Tensor gradient = torch.randn(cpuParameters[i].shape, generator: generator);
                    using Tensor cpuGradient = cpuParameters[i].grad!, gpuGradient = gpuParameters[i].grad!;
                    cpuGradient.copy_(gradient);
                    gpuGradient.copy_(gradient);
                }
            }
            gpu.step();
            cpu.step();
            for (int i = 0; i < gpuParameters.Length; i++)
            {
                using Tensor fromGpu = gpuParameters[i].detach().cpu();
                float[] got = fromGpu.data<float>().ToArray(), expected = cpuParameters[i].detach().data<float>().ToArray();
                for (int e = 0; e < got.Length; e++)
                {
                    if (!got[e].Equals(expected[e])) mismatches++;
                }
            }
        }
        return mismatches;
    }

    /// <summary>AdamW at the grokking run's settings with the filter the throughput verb times (the windowed mean at window 20, to fit 124 M parameters' ring on one GPU).</summary>
    private static GrokfastAdamW Create(SyntheticModel model, string filter, KernelBackend backend) => new(model, lr: 1e-3, beta1: 0.9, beta2: 0.98,
        weight_decay: 0.01, grokfast: filter == "ma" ? GrokfastFilter.WindowedMean(window_size: 20, lamb: 5.0) : OptimizerMeasurement.Fused(filter), backend: backend);
}
