using System.Text.Json;
using Grokfast.Bench.Grokking;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Grokking;

public sealed class GrokCommandTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-grok-").FullName;

    [Fact]
    public void Grok_AFewStepsOfEveryRun_WritesCsvJsonAndPlot()
    {
        var (exitCode, output, error) = BenchProcess.Run("grok", "--steps", "10", "--out", folder);

        Assert.True(exitCode == 0, error);
        Assert.Contains("95% val", output, StringComparison.Ordinal);
        string[] csv = File.ReadAllLines(Path.Combine(folder, "metrics.csv"));
        Assert.Equal(GrokReport.CsvHeader, csv[0]);
        Assert.Equal(["baseline", "ema", "ma", "kalman"], csv.Skip(1).Select(line => line.Split(',')[0]).Distinct());
        using JsonDocument summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "summary.json")));
        JsonElement[] runs = summary.RootElement.GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(4, runs.Length);
        foreach (string field in new[] { "name", "filter", "hyperparameters", "weight_decay", "steps", "steps_to_95_val", "steps_to_99_train",
                     "paper_steps_to_95_val", "final_train_acc", "final_val_acc", "wall_s", "mean_step_ms", "filter_share" })
            Assert.True(runs[1].TryGetProperty(field, out _), $"summary.json runs lack '{field}'");
        Assert.Equal(10, runs[1].GetProperty("steps").GetInt32());
        Assert.True(runs[1].GetProperty("filter_share").GetDouble() > 0);
        Assert.Equal(0, runs[0].GetProperty("filter_share").GetDouble());
        Assert.True(new FileInfo(Path.Combine(folder, "curves.png")).Length > 10_000, "curves.png is missing or empty");
    }

    [Fact]
    public void Grok_UnknownFilter_FailsWithExitCode2()
    {
        var (exitCode, _, error) = BenchProcess.Run("grok", "--filter", "sgd", "--out", folder);

        Assert.Equal(2, exitCode);
        Assert.Contains("sgd", error, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
