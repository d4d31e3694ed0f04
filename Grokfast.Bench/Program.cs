using System.CommandLine;
using Grokfast.Bench.Demo;
using Grokfast.Bench.Throughput;

var root = new RootCommand("Grokfast.NET: fused Grokfast gradient filters for TorchSharp — the main job, benchmarks and tools.");
root.Subcommands.Add(TrainingDemoCommand.Create());
root.Subcommands.Add(ThroughputCommand.Create());
// With no verb, run the main job.
root.SetAction(_ => TrainingDemoCommand.Run(TrainingDemoCommand.DefaultSteps));
return root.Parse(args).Invoke();
