using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Grokfast.Bench.Support;
using Grokfast.Bench.Throughput;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Distributed;
using Grokfast.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bench.DataParallel;

/// <summary>
/// The <c>data-parallel</c> verb. Under <c>mpirun</c>, times one rank's work side by side in one run — the fused EMA +
/// AdamW step on its own, the flat gradients' all-reduce alone, a reduce-scatter and an all-gather alone, the replicated
/// data-parallel step and the ZeRO-1 step — and reports each rank's optimizer state; started alone, times the fused step
/// on every core, the single-process baseline.
/// </summary>
internal static class DataParallelCommand
{
    private const int Runs = 15;

    public static Command Create()
    {
        var elements = new Option<long>("--elements") { Description = "Parameter elements, spread evenly over the tensors.", DefaultValueFactory = _ => 10_000_000 };
        var tensors = new Option<int>("--tensors") { Description = "Parameter tensors the elements are spread over.", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print the figures as one JSON object." };
        var command = new Command("data-parallel", "Under mpirun: time the all-reduce, the reduce-scatter + all-gather, the replicated and the ZeRO-1 step beside the fused step alone; without: the fused step alone.") { elements, tensors, json };
        elements.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long>() < 1) result.AddError("--elements must be at least 1.");
        });
        tensors.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1 || result.GetValueOrDefault<int>() > 1_000_000) result.AddError("--tensors must be in [1, 1000000].");
        });
        command.SetAction(parse => Run(parse.GetValue(elements), Math.Min(parse.GetValue(tensors), (int)Math.Min(int.MaxValue, parse.GetValue(elements))), parse.GetValue(json)));
        return command;
    }

    private static int Run(long elements, int tensors, bool json)
    {
        using MpiCommunicator? ranks = LaunchEnvironment.Read() is { WorldSize: > 1 } ? MpiCommunicator.World() : null;
        (string[] names, double[] medians, long[] stateBytes) = ranks is null ? Alone(elements, tensors) : Ranked(ranks, elements, tensors);
        if (ranks is { Rank: > 0 }) return 0;
        string machine = MachineInfo.Describe();
        int worldSize = ranks?.WorldSize ?? 1;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                machine,
                elements,
                tensors,
                ranks = worldSize,
                medians_ms = names.Zip(medians).ToDictionary(p => p.First, p => p.Second),
                optimizer_state_bytes_per_rank = names.Zip(stateBytes).Where(p => p.Second > 0).ToDictionary(p => p.First, p => p.Second),
            }));
            return 0;
        }
        Console.WriteLine($"{machine}; {elements:N0} float32 parameters in {tensors:N0} tensors; {worldSize} rank(s); medians of {Runs}, taken in turn");
        Console.WriteLine("operation                    ms      optimizer state per rank");
        for (int i = 0; i < names.Length; i++)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{names[i],-22} {medians[i],8:F2}      {(stateBytes[i] > 0 ? $"{stateBytes[i] / 1e6:F1} MB" : "")}"));
        return 0;
    }

    // The single-process baseline: the fused step on every core.
    private static (string[], double[], long[]) Alone(long elements, int tensors)
    {
        using var model = new SyntheticModel(elements, tensors);
        using var optimizer = new GrokfastAdamW(model, grokfast: OptimizerMeasurement.Fused("ema"));
        using var cache = new CacheEviction();
        Tensor[] pristine = model.SnapshotGradients();
        try
        {
            double[] medians = StepTimer.MedianMilliseconds([new TimedOperation(() => optimizer.step(), model.Restoring(pristine, cache))], warmup: 3, Runs);
            return (["fused step, alone"], medians, [StateBytes(optimizer)]);
        }
        finally
        {
            foreach (Tensor t in pristine) t.Dispose();
        }
    }

    // One rank: every operation in the same order on every rank, so the collectives meet.
    private static unsafe (string[], double[], long[]) Ranked(MpiCommunicator ranks, long elements, int tensors)
    {
        SyntheticModel[] models = [.. Enumerable.Range(0, 3).Select(_ => new SyntheticModel(elements, tensors))];
        Tensor[] pristine = models[0].SnapshotGradients();
        // The collectives alone run on buffers of their own, as large as the gradients and as one rank's block.
        nint flatAddress = (nint)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)elements, sizeof(float));
        nint blockAddress = (nint)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(elements / ranks.WorldSize + 1), sizeof(float));
        int[] counts = [.. Enumerable.Range(0, ranks.WorldSize).Select(r => (int)(elements / ranks.WorldSize + (r < elements % ranks.WorldSize ? 1 : 0)))];
        try
        {
            using var alone = new GrokfastAdamW(models[0], grokfast: OptimizerMeasurement.Fused("ema"));
            using var replicated = new GrokfastAdamW(models[1], grokfast: OptimizerMeasurement.Fused("ema")) { communicator = ranks };
            using var sharded = new GrokfastAdamW(models[2], grokfast: OptimizerMeasurement.Fused("ema")) { shard_over = ranks };
            using var cache = new CacheEviction();
            TimedOperation[] operations =
            [
                new(() => alone.step(), models[0].Restoring(pristine, cache)),
                new(() => ranks.AllReduceSum(flatAddress, elements, GradientFormat.Float32), cache.Evict),
                new(() =>
                {
                    ranks.ReduceScatterSum(flatAddress, blockAddress, counts, GradientFormat.Float32);
                    ranks.AllGatherInPlace(flatAddress, counts, GradientFormat.Float32);
                }, cache.Evict),
                new(() => replicated.step(), models[1].Restoring(pristine, cache)),
                new(() => sharded.step(), models[2].Restoring(pristine, cache)),
            ];
            double[] medians = StepTimer.MedianMilliseconds(operations, warmup: 3, Runs);
            return (["fused step, alone", "all-reduce", "reduce-scatter+gather", "replicated step", "ZeRO-1 step"], medians,
                [StateBytes(alone), 0, 0, StateBytes(replicated), StateBytes(sharded)]);
        }
        finally
        {
            foreach (Tensor t in pristine) t.Dispose();
            foreach (SyntheticModel model in models) model.Dispose();
            System.Runtime.InteropServices.NativeMemory.Free((void*)flatAddress);
            System.Runtime.InteropServices.NativeMemory.Free((void*)blockAddress);
        }
    }

    // The moments and the filter's state this rank keeps.
    private static long StateBytes(FusedAdamOptimizer optimizer) => optimizer.state().Sum(s =>
    {
        using Tensor state = s.Value;
        return state.numel() * state.element_size();
    });
}
