using System.CommandLine;
using Grokfast.Bench.DataParallel;
using Grokfast.Bench.Gpu;
using Grokfast.Bench.Grokking;
using Grokfast.Bench.Micro;
using Grokfast.Bench.Replay;
using Grokfast.Bench.Support;
using Grokfast.Bench.Throughput;

// The main job trains for minutes: its OpenMP threads sleep when idle, so that a machine shared with another busy process
// does not slow both to a crawl (the benchmarks keep libgomp's spinning, faster alone; a user's own setting wins).
if (args is [] or ["grok", ..]) OpenMpWaitPolicy.PreferPassive();

var root = new RootCommand("Grokfast.NET: fused Grokfast gradient filters for TorchSharp — the main job, benchmarks and tools.");
root.Subcommands.Add(GrokCommand.Create());
root.Subcommands.Add(ThroughputCommand.Create());
root.Subcommands.Add(ReplayCommand.Create());
root.Subcommands.Add(MicroCommand.Create());
root.Subcommands.Add(GpuCheckCommand.Create());
root.Subcommands.Add(GpuOptimizerCommand.Create());
root.Subcommands.Add(DataParallelCommand.Create());
// With no verb, run the main job: the grokking session with its defaults.
string defaultDevice = TorchSharp.torch.cuda.is_available() ? "cuda" : "cpu";
root.SetAction(_ => GrokCommand.Run(new GrokSession(GrokCommand.DefaultRuns, [0], new TorchSharp.torch.Device(defaultDevice),
    GrokOptimizer.Fused, TorchSharp.torch.ScalarType.Float32, StopAt: null, Path.Combine("out", "grok"))));

ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One clear line and exit code 2 for a command line that does not parse, as for any other bad input.
    Console.Error.WriteLine(string.Join(" ", parsed.Errors[0].Message.Split((char[])['\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
    return ReplayCommand.BadInput;
}
return parsed.Invoke();
