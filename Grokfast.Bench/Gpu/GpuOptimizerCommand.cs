using System.CommandLine;
using System.Text.Json;
using Grokfast.Bench.Support;
using Grokfast.Bench.Throughput;
using Grokfast.Kernels.Backends.Cuda;
using TorchSharp;

namespace Grokfast.Bench.Gpu;

/// <summary>
/// The <c>gpu-optimizers</c> verb: each fused optimizer (AdamW with each filter, and none) on TorchSharp CUDA tensors,
/// checked against its CPU twin and timed against a device copy of its bytes, on N elements in 20 tensors and on GPT-2
/// small's 124 M parameters. Needs a CUDA build of libtorch (tools/gpu/run.sh loads PyTorch's).
/// </summary>
internal static class GpuOptimizerCommand
{
    public static Command Create()
    {
        var elements = new Option<long>("--elements") { Description = "Elements of the synthetic set, in 20 tensors.", DefaultValueFactory = _ => 16_777_216 };
        var steps = new Option<int>("--steps") { Description = "Steps compared with the CPU twin (synthetic set only).", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print the figures as one JSON object." };
        var command = new Command("gpu-optimizers", "Check each fused optimizer on a CUDA GPU against its CPU twin and time it against a device copy.") { elements, steps, json };
        elements.Validators.Add(result =>
        {
            long value = result.GetValueOrDefault<long>();
            if (value < 20 || value > int.MaxValue) result.AddError($"--elements must be in [20, {int.MaxValue}].");
        });
        steps.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError("--steps must be at least 1.");
        });
        command.SetAction(parse => Run(parse.GetValue(elements), parse.GetValue(steps), parse.GetValue(json)));
        return command;
    }

    private static int Run(long elements, int steps, bool json)
    {
        if (!torch.cuda.is_available())
        {
            Console.Error.WriteLine("gpu-optimizers needs a CUDA device and a CUDA build of libtorch, and TorchSharp sees none here (tools/gpu/run.sh loads PyTorch's).");
            return GpuCheckCommand.NoDevice;
        }
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        var check = new GpuOptimizerCheck(context, steps);
        var synthetic = Enumerable.Range(0, 20).Select(i => new[] { elements / 20 + (i < elements % 20 ? 1 : 0) }).ToArray();
        var figures = new Dictionary<string, Dictionary<string, GpuFigures>>
        {
            [$"{elements} in 20"] = OptimizerMeasurement.Filters.ToDictionary(f => f, f => check.Measure(synthetic, f, compare: true)),
            ["gpt2-small"] = OptimizerMeasurement.Filters.ToDictionary(f => f, f => check.Measure(SyntheticModel.Gpt2SmallShapes, f, compare: false)),
        };
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                device = $"CUDA device 0, compute capability {context.ComputeCapability.Major}.{context.ComputeCapability.Minor}, {context.Multiprocessors} SMs",
                optimizer = "AdamW",
                sets = figures.ToDictionary(set => set.Key, set => set.Value.ToDictionary(f => f.Key, f => f.Value.Json)),
            }));
        }
        else
        {
            Console.WriteLine($"AdamW + filter; GPU time from CUDA events\nset          filter  {GpuFigures.Header}");
            foreach ((string set, Dictionary<string, GpuFigures> byFilter) in figures)
            {
                foreach ((string name, GpuFigures f) in byFilter) Console.WriteLine($"{set,-12} {name,-6}  {f.Row}");
            }
        }
        return figures.Values.SelectMany(f => f.Values).All(f => f.Mismatches == 0) ? 0 : 1;
    }
}
