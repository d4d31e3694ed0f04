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
            BenchmarkSwitcher.FromTypes([typeof(FilterStepBenchmarks)]).Run([.. parse.UnmatchedTokens], Config);
            return 0;
        });
        return command;
    }

    /// <summary>BenchmarkDotNet's defaults plus the GB/s column and allocations.</summary>
    public static IConfig Config { get; } = ManualConfig.Create(DefaultConfig.Instance)
        .AddColumn(new GigabytesPerSecondColumn())
        .AddDiagnoser(MemoryDiagnoser.Default);
}
