using System.Text.Json;
using Grokfast.Bench.Grokking;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Grokking;

[Collection(nameof(ChildProcesses))]
public sealed class GrokCommandTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-grok-").FullName;

    [Fact]
    public void Grok_AFewStepsOfEveryRun_WritesCsvJsonAndPlot()
    {
        var (exitCode, output, error) = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--steps", "10", "--out", folder]);

        Assert.True(exitCode == 0, error);
        Assert.Contains("95% val", output, StringComparison.Ordinal);
        string[] csv = File.ReadAllLines(Path.Combine(folder, "metrics.csv"));
        Assert.Equal(GrokReport.CsvHeader, csv[0]);
        Assert.Equal(["baseline", "ema", "ma", "kalman"], csv.Skip(1).Select(line => line.Split(',')[0]).Distinct());
        using JsonDocument summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "summary.json")));
        JsonElement[] runs = summary.RootElement.GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(4, runs.Length);
        Assert.Equal(13, summary.RootElement.GetProperty("modulus").GetInt32());
        Assert.Equal(16, summary.RootElement.GetProperty("width").GetInt32());
        // The paper's step counts are for its task and model, not for this one.
        Assert.All(runs, run => Assert.Equal(JsonValueKind.Null, run.GetProperty("paper_steps_to_95_val").ValueKind));
        foreach (string field in new[] { "name", "filter", "hyperparameters", "weight_decay", "steps", "steps_to_95_val", "steps_to_99_train",
                     "paper_steps_to_95_val", "final_train_acc", "final_val_acc", "wall_s", "mean_step_ms", "optimizer", "optimizer_share", "optimizer_ms_per_step" })
            Assert.True(runs[1].TryGetProperty(field, out _), $"summary.json runs lack '{field}'");
        Assert.Equal(10, runs[1].GetProperty("steps").GetInt32());
        Assert.All(runs, run => Assert.Equal("fused", run.GetProperty("optimizer").GetString()));
        Assert.All(runs, run => Assert.InRange(run.GetProperty("optimizer_share").GetDouble(), 1e-6, 1));
        Assert.True(new FileInfo(Path.Combine(folder, "curves.png")).Length > 10_000, "curves.png is missing or empty");
    }

    [Theory]
    [InlineData(null, "OMP_WAIT_POLICY=PASSIVE")]
    [InlineData("ACTIVE", "OMP_WAIT_POLICY=ACTIVE")]
    public void Grok_MachineLine_NamesTheVectorExtensionsTheCopyBandwidthAndTheOpenMpWaitPolicyPassiveUnlessTheUserChose(string? policy, string expected)
    {
        var (exitCode, output, error) = BenchProcess.Run(new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = policy },
            ["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "1", "--out", folder]);

        Assert.True(exitCode == 0, error);
        using JsonDocument summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "summary.json")));
        string machine = summary.RootElement.GetProperty("machine").GetString()!;
        Assert.Contains(expected, machine, StringComparison.Ordinal);
        string flags = File.ReadLines("/proc/cpuinfo").First(line => line.StartsWith("flags", StringComparison.Ordinal));
        Assert.All(Grokfast.Bench.Support.MachineInfo.VectorExtensions(flags), extension => Assert.Contains(extension, machine, StringComparison.Ordinal));
        Assert.Contains(".NET vectors", machine, StringComparison.Ordinal);
        Assert.True(summary.RootElement.GetProperty("copy_gbps").GetDouble() > 0);
        Assert.Contains("GB/s", output, StringComparison.Ordinal);
    }

    [MpiTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Grok_UnderMpirunWithTwoRanks_TrainsAsOneProcess_AndRankZeroAloneReports(bool sharded)
    {
        string single = Path.Combine(folder, "single"), parallel = Path.Combine(folder, "parallel");
        string[] args = ["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "30"];

        var one = BenchProcess.Run([.. args, "--out", single]);
        var two = ChildProcess.Run(MpiFactAttribute.Mpirun!, ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "2",
            Path.Combine(AppContext.BaseDirectory, "Grokfast.Bench"), .. args, .. (sharded ? ["--shard"] : Array.Empty<string>()), "--out", parallel], TimeSpan.FromMinutes(3),
            new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" });
        var torch = ChildProcess.Run(MpiFactAttribute.Mpirun!, ["--allow-run-as-root", "--oversubscribe", "-np", "2",
            Path.Combine(AppContext.BaseDirectory, "Grokfast.Bench"), .. args, "--optimizer", "torch", "--out", parallel], TimeSpan.FromMinutes(3));

        Assert.True(one.ExitCode == 0, one.Error);
        Assert.True(two.ExitCode == 0, two.Output + two.Error);
        Assert.Contains("data parallel over 2 ranks", two.Output, StringComparison.Ordinal);
        Assert.Equal(sharded, two.Output.Contains("ZeRO-1", StringComparison.Ordinal));
        Assert.Single(two.Output.Split('\n'), line => line.StartsWith("Wrote", StringComparison.Ordinal));
        // Each rank trains on half of every batch; the average of their gradients is the batch's up to rounding, so every
        // epoch's losses and accuracies agree with the single process's to the digits metrics.csv keeps, or nearly.
        string[] expected = File.ReadAllLines(Path.Combine(single, "metrics.csv")), actual = File.ReadAllLines(Path.Combine(parallel, "metrics.csv"));
        Assert.Equal(expected.Length, actual.Length);
        foreach ((string e, string a) in expected.Skip(1).Zip(actual.Skip(1)))
        {
            double[] want = Numbers(e), got = Numbers(a);
            Assert.Equal(want[0], got[0], 1e-4 * want[0]);
            Assert.Equal(want[1], got[1], 0.02);
            Assert.Equal(want[2], got[2], 1e-4 * want[2]);
            Assert.Equal(want[3], got[3], 0.02);
        }
        Assert.NotEqual(0, torch.ExitCode);
        Assert.Contains("--optimizer fused", torch.Output + torch.Error, StringComparison.Ordinal);
    }

    // A metrics.csv row's train loss, train accuracy, validation loss and validation accuracy.
    private static double[] Numbers(string csvLine) =>
        csvLine.Split(',')[3..7].Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void Grok_FusedAndTorchOptimizers_TrainAlikeAndReportTheirShare()
    {
        string fusedFolder = Path.Combine(folder, "fused"), torchFolder = Path.Combine(folder, "torch");

        var fused = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "20", "--optimizer", "fused", "--out", fusedFolder]);
        var separate = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "20", "--optimizer", "torch", "--out", torchFolder]);

        Assert.True(fused.ExitCode == 0, fused.Error);
        Assert.True(separate.ExitCode == 0, separate.Error);
        JsonElement fusedRun = Runs(fusedFolder).Single(), torchRun = Runs(torchFolder).Single();
        Assert.Equal("fused", fusedRun.GetProperty("optimizer").GetString());
        Assert.Equal("torch", torchRun.GetProperty("optimizer").GetString());
        Assert.InRange(torchRun.GetProperty("optimizer_share").GetDouble(), 1e-6, 1);
        foreach (JsonElement run in new[] { fusedRun, torchRun })
        {
            double share = run.GetProperty("optimizer_ms_per_step").GetDouble() / run.GetProperty("mean_step_ms").GetDouble();
            Assert.Equal(run.GetProperty("optimizer_share").GetDouble(), share, 6);
        }
        // After 20 steps the two paths round Adam differently (kernels.md), so the losses agree closely, not exactly.
        double fusedLoss = LastTrainLoss(fusedFolder), torchLoss = LastTrainLoss(torchFolder);
        Assert.NotEqual(FirstTrainLoss(fusedFolder), fusedLoss);
        Assert.Equal(torchLoss, fusedLoss, 3);
        Assert.True(fusedRun.GetProperty("steps").GetInt32() >= 20);
    }

    [Fact]
    public void Grok_InBfloat16_TrainsInBfloat16WithTheFusedOptimizerAndSaysSo()
    {
        string halfFolder = Path.Combine(folder, "bfloat16"), fullFolder = Path.Combine(folder, "float32");

        var half = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "20", "--dtype", "bfloat16", "--out", halfFolder]);
        var full = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "20", "--out", fullFolder]);

        Assert.True(half.ExitCode == 0, half.Error);
        Assert.True(full.ExitCode == 0, full.Error);
        Assert.Contains("bfloat16", half.Output, StringComparison.Ordinal);
        JsonElement halfRun = Runs(halfFolder).Single(), fullRun = Runs(fullFolder).Single();
        Assert.Equal("bfloat16", halfRun.GetProperty("dtype").GetString());
        Assert.Equal("float32", fullRun.GetProperty("dtype").GetString());
        Assert.Equal("fused", halfRun.GetProperty("optimizer").GetString());
        // The same training in another precision: the last epoch's loss close to float32's (bfloat16 holds a loss near 3
        // in steps of 1/64), but not the same numbers.
        double halfLoss = LastTrainLoss(halfFolder), fullLoss = LastTrainLoss(fullFolder);
        Assert.NotEqual(FirstTrainLoss(halfFolder), halfLoss);
        Assert.NotEqual(fullLoss, halfLoss);
        Assert.Equal(fullLoss, halfLoss, tolerance: 0.05);
    }

    [Fact]
    public void Grok_UnknownDtype_FailsWithExitCode2()
    {
        var (exitCode, _, error) = BenchProcess.Run("grok", "--dtype", "float64", "--out", folder);

        Assert.Equal(2, exitCode);
        Assert.Contains("float64", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Grok_TwoSeeds_RunsEachOnceAndWritesTheSeedColumnPerSeedJsonAndTheSeedTable()
    {
        var (exitCode, output, error) = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "20", "--seeds", "3-4", "--out", folder]);

        Assert.True(exitCode == 0, error);
        Assert.Contains("over seeds", output, StringComparison.Ordinal);
        JsonElement[] runs = Runs(folder);
        Assert.Equal([3, 4], runs.Select(r => r.GetProperty("seed").GetInt32()));
        using JsonDocument summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "summary.json")));
        JsonElement overSeeds = summary.RootElement.GetProperty("over_seeds").EnumerateArray().Single();
        Assert.Equal(2, overSeeds.GetProperty("seeds").GetInt32());
        string[] lines = File.ReadAllLines(Path.Combine(folder, "metrics.csv"));
        Assert.EndsWith(",seed", lines[0], StringComparison.Ordinal);
        Assert.Equal(["3", "4"], lines.Skip(1).Select(line => line.Split(',')[^1]).Distinct());
        // Two seeds, two splits and initialisations: the first epochs differ.
        Assert.NotEqual(lines.Skip(1).First(l => l.EndsWith(",3", StringComparison.Ordinal)).Split(',')[3],
            lines.Skip(1).First(l => l.EndsWith(",4", StringComparison.Ordinal)).Split(',')[3]);
    }

    [Fact]
    public void Grok_TheSameSeedTwiceOnTheCpu_GivesTheSameMetricsBitForBit()
    {
        string first = Path.Combine(folder, "first"), second = Path.Combine(folder, "second");

        var a = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "30", "--seed", "5", "--out", first]);
        var b = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "30", "--seed", "5", "--out", second]);

        Assert.True(a.ExitCode == 0 && b.ExitCode == 0, a.Error + b.Error);
        // Everything but the wall-clock column.
        static string[] Metrics(string runFolder) => File.ReadAllLines(Path.Combine(runFolder, "metrics.csv"))
            .Select(line => string.Join(',', line.Split(',').Where((_, column) => column != 7))).ToArray();
        Assert.Equal(Metrics(first), Metrics(second));
    }

    [Fact]
    public void Grok_StopAt_EndsTheRunAfterTheFirstEpochThatReachesIt()
    {
        // Chance is 1/13: the first epoch's validation accuracy (78 equations) passes 0.1 % unless it is exactly 0.
        var (exitCode, output, error) = BenchProcess.Run(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "100", "--stop-at", "0.001", "--out", folder]);

        Assert.True(exitCode == 0, error);
        JsonElement run = Runs(folder).Single();
        Assert.True(run.GetProperty("stopped_early").GetBoolean());
        Assert.InRange(run.GetProperty("steps").GetInt32(), 1, 99);
        Assert.Contains("stopped", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--seeds", "4-2", "backwards")]
    [InlineData("--seeds", "x", "'x'")]
    [InlineData("--stop-at", "1.5", "--stop-at")]
    [InlineData("--modulus", "2", "--modulus")]
    [InlineData("--modulus", "1001", "--modulus")]
    [InlineData("--width", "18", "--width")]
    [InlineData("--width", "0", "--width")]
    public void Grok_BadSeedsOrStopAt_FailsWithExitCode2NamingIt(string option, string value, string named)
    {
        var (exitCode, _, error) = BenchProcess.Run("grok", option, value, "--out", folder);

        Assert.Equal(2, exitCode);
        Assert.Contains(named, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Grok_UnknownOptimizer_FailsWithExitCode2()
    {
        var (exitCode, _, error) = BenchProcess.Run("grok", "--optimizer", "sgd", "--out", folder);

        Assert.Equal(2, exitCode);
        Assert.Contains("sgd", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Grok_UnknownFilter_FailsWithExitCode2()
    {
        var (exitCode, _, error) = BenchProcess.Run("grok", "--filter", "sgd", "--out", folder);

        Assert.Equal(2, exitCode);
        Assert.Contains("sgd", error, StringComparison.Ordinal);
    }

    private static double FirstTrainLoss(string runFolder) => TrainLoss(File.ReadAllLines(Path.Combine(runFolder, "metrics.csv"))[1]);

    private static double LastTrainLoss(string runFolder) => TrainLoss(File.ReadAllLines(Path.Combine(runFolder, "metrics.csv"))[^1]);

    private static double TrainLoss(string csvLine) => Numbers(csvLine)[0];

    private static JsonElement[] Runs(string runFolder)
    {
        using JsonDocument summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(runFolder, "summary.json")));
        return summary.RootElement.GetProperty("runs").EnumerateArray().Select(run => run.Clone()).ToArray();
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
