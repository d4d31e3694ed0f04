using System.CommandLine;
using Grokfast.Bench.DataParallel;
using Grokfast.Bench.Gpu;
using Grokfast.Bench.Grokking;
using Grokfast.Bench.Micro;
using Grokfast.Bench.Replay;
using Grokfast.Bench.Throughput;

namespace Grokfast.Bench;

/// <summary>The app's command line: every verb and its options (docs/cli.md is generated from it and tested against it).</summary>
internal static class BenchCommands
{
    /// <summary>The root command: the verbs, and with none the main job, the grokking session with its defaults.</summary>
    public static RootCommand Create()
    {
        var root = new RootCommand("Grokfast.NET: fused Grokfast gradient filters for TorchSharp — the main job, benchmarks and tools.");
        root.Subcommands.Add(GrokCommand.Create());
        root.Subcommands.Add(ThroughputCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(MicroCommand.Create());
        root.Subcommands.Add(GpuCheckCommand.Create());
        root.Subcommands.Add(GpuOptimizerCommand.Create());
        root.Subcommands.Add(DataParallelCommand.Create());
        root.SetAction(_ =>
        {
            string device = TorchSharp.torch.cuda.is_available() ? "cuda" : "cpu";
            return GrokCommand.Run(new GrokSession(GrokCommand.DefaultRuns, [0], new TorchSharp.torch.Device(device),
                GrokOptimizer.Fused, TorchSharp.torch.ScalarType.Float32, StopAt: null, Path.Combine("out", "grok")));
        });
        return root;
    }
}
