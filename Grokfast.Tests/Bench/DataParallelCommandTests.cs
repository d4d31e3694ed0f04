using System.Text.Json;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Bench;

/// <summary>The <c>data-parallel</c> verb in miniature: alone it times the fused step; under mpirun, every operation, with the state each rank keeps.</summary>
[Collection(nameof(ChildProcesses))]
public sealed class DataParallelCommandTests
{
    private static readonly string[] Miniature = ["data-parallel", "--elements", "20000", "--tensors", "4", "--json"];

    [Fact]
    public void Alone_TimesTheFusedStep()
    {
        var (exitCode, output, error) = BenchProcess.Run(Miniature);

        Assert.True(exitCode == 0, error);
        using JsonDocument report = JsonDocument.Parse(output);
        Assert.Equal(1, report.RootElement.GetProperty("ranks").GetInt32());
        Assert.True(report.RootElement.GetProperty("medians_ms").GetProperty("fused step, alone").GetDouble() > 0);
    }

    [MpiFact]
    public void UnderMpirun_TimesEveryOperation_AndZeroOneKeepsHalfTheStatePerRank()
    {
        var (exitCode, output, error) = ChildProcess.Run(MpiFactAttribute.Mpirun!, ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "2",
            Path.Combine(AppContext.BaseDirectory, "Grokfast.Bench"), .. Miniature], TimeSpan.FromMinutes(3),
            new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" });

        Assert.True(exitCode == 0, output + error);
        // Rank 0 alone reports: one JSON object (after the terminal set-up .NET writes where mpirun gives it a pseudo-terminal).
        using JsonDocument report = JsonDocument.Parse(output[output.IndexOf('{', StringComparison.Ordinal)..].Trim());
        JsonElement medians = report.RootElement.GetProperty("medians_ms"), state = report.RootElement.GetProperty("optimizer_state_bytes_per_rank");
        foreach (string operation in new[] { "fused step, alone", "all-reduce", "reduce-scatter+gather", "replicated step", "ZeRO-1 step" })
            Assert.True(medians.GetProperty(operation).GetDouble() > 0, operation);
        // The EMA's average and Adam's two moments: 12 bytes per element, of every element or of this rank's half.
        Assert.Equal(12 * 20000, state.GetProperty("replicated step").GetInt64());
        Assert.Equal(12 * 10000, state.GetProperty("ZeRO-1 step").GetInt64());
    }
}
