using System.CommandLine;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;
using Grokfast.Bench.Support;

namespace Grokfast.Bench.Micro;

/// <summary>The <c>micro</c> verb: the BenchmarkDotNet suite; every argument after the verb goes to BenchmarkDotNet.</summary>
internal static class MicroCommand
{
    public static Command Create()
    {
        var command = new Command("micro", "Run the BenchmarkDotNet suite (pass BenchmarkDotNet's own arguments, e.g. --filter '*').")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(parse =>
        {
            NativeHeap.ReturnLargeBlocksToTheSystem();
            // In process: a project BenchmarkDotNet generates does not import this repository's build
            // targets, so its copy of TorchSharp's native library would miss the libstdc++ fix and not load.
            string[] arguments = parse.UnmatchedTokens.Contains("--inProcess") ? [.. parse.UnmatchedTokens] : ["--inProcess", .. parse.UnmatchedTokens];
            var summaries = BenchmarkSwitcher.FromTypes([typeof(FilterStepBenchmarks), typeof(OptimizerStepBenchmarks)]).Run(arguments, Config).ToList();
            bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success) || s.BenchmarksCases.Length > s.Reports.Length);
            return failed ? 1 : 0;
        });
        return command;
    }

    /// <summary>BenchmarkDotNet's defaults plus the GB/s column and allocations.</summary>
    public static IConfig Config { get; } = ManualConfig.Create(DefaultConfig.Instance)
        .AddColumn(new GigabytesPerSecondColumn())
        .AddDiagnoser(MemoryDiagnoser.Default);
}
