using System.Globalization;
using System.Text.Json;
using Grokfast.Bench.Plotting;
using Grokfast.Bench.Support;
using ScottPlot;

namespace Grokfast.Bench.Grokking;

/// <summary>Writes a grokking session's files: metrics.csv, summary.json and curves.png.</summary>
internal static class GrokReport
{
    public const string CsvHeader = "run,step,epoch,train_loss,train_acc,val_loss,val_acc,elapsed_s,seed";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void WriteAll(GrokSession session, IReadOnlyList<GrokRunResult> results, string machine, double copyGBps)
    {
        string folder = session.OutputFolder;
        Directory.CreateDirectory(folder);
        WriteCsv(Path.Combine(folder, "metrics.csv"), results);
        WriteSummary(Path.Combine(folder, "summary.json"), session, results, machine, copyGBps);
        WriteCurves(Path.Combine(folder, "curves.png"), session.Modulus, results);
    }

    private static void WriteCsv(string path, IReadOnlyList<GrokRunResult> results)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine(CsvHeader);
        foreach (GrokRunResult r in results)
        {
            foreach (GrokEvaluation e in r.Evaluations)
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{e.Run},{e.Step},{e.Epoch},{e.TrainLoss:G6},{e.TrainAccuracy:G6},{e.ValidLoss:G6},{e.ValidAccuracy:G6},{e.ElapsedSeconds:F3},{r.Seed}"));
        }
    }

    private static void WriteSummary(string path, GrokSession session, IReadOnlyList<GrokRunResult> results, string machine, double copyGBps)
    {
        var summary = new
        {
            machine,
            copy_gbps = copyGBps,
            date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            modulus = session.Modulus,
            width = session.Width,
            seed = session.Seeds[0],
            seeds = session.Seeds,
            over_seeds = results.GroupBy(r => r.Settings.Name).Select(run =>
            {
                GrokSeedSummary s = GrokSeedSummary.Of(run.Key, run);
                return new
                {
                    name = s.Name,
                    seeds = s.Seeds,
                    reached_95_val = s.Reached,
                    median_steps_to_95_val = s.Median,
                    min_steps_to_95_val = s.Fastest,
                    max_steps_to_95_val = s.Slowest,
                    budget = s.Budget,
                };
            }),
            runs = results.Select(r => new
            {
                name = r.Settings.Name,
                seed = r.Seed,
                stopped_early = r.StoppedEarly,
                filter = r.Settings.FilterKind,
                hyperparameters = r.Settings.Filter?.Hyperparameters ?? new Dictionary<string, double>(),
                weight_decay = r.Settings.WeightDecay,
                steps = r.StepsRun,
                steps_to_95_val = r.StepsTo95Valid,
                steps_to_99_train = r.StepsTo99Train,
                paper_steps_to_95_val = r.Settings.PaperStepsTo95,
                final_train_acc = r.FinalTrainAccuracy,
                final_val_acc = r.FinalValidAccuracy,
                wall_s = r.WallSeconds,
                mean_step_ms = r.MeanStepMilliseconds,
                optimizer = r.Optimizer.ToString().ToLowerInvariant(),
                dtype = DtypeOption.Name(r.Dtype),
                optimizer_share = r.OptimizerShare,
                optimizer_ms_per_step = r.MeanOptimizerMilliseconds,
            }),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(summary, Indented));
    }

    /// <summary>Train (dashed) and validation (solid) accuracy against steps on a log axis, a colour per run, as the paper's figure.</summary>
    private static void WriteCurves(string path, int modulus, IReadOnlyList<GrokRunResult> results)
    {
        Plot plot = PlotFont.NewPlot();
        var palette = new ScottPlot.Palettes.Category10();
        string[] names = results.Select(r => r.Settings.Name).Distinct().ToArray();
        bool severalSeeds = results.Select(r => r.Seed).Distinct().Count() > 1;
        foreach (GrokRunResult r in results)
        {
            double[] steps = r.Evaluations.Select(e => Math.Log10(e.Step)).ToArray();
            Color color = palette.GetColor(Array.IndexOf(names, r.Settings.Name));
            // One legend entry per run; with several seeds, thin lines, one per seed, in the run's colour.
            bool first = results.First(other => other.Settings.Name == r.Settings.Name) == r;
            var train = plot.Add.ScatterLine(steps, r.Evaluations.Select(e => e.TrainAccuracy).ToArray(), color);
            if (first) train.LegendText = $"{r.Settings.Name} train";
            train.LinePattern = LinePattern.Dashed;
            train.LineWidth = severalSeeds ? 0.75f : 1;
            var valid = plot.Add.ScatterLine(steps, r.Evaluations.Select(e => e.ValidAccuracy).ToArray(), color);
            if (first) valid.LegendText = severalSeeds ? $"{r.Settings.Name} validation (one line per seed)" : $"{r.Settings.Name} validation";
            valid.LineWidth = severalSeeds ? 1 : 2;
        }
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = exponent => Math.Pow(10, exponent).ToString("N0", CultureInfo.InvariantCulture),
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
        };
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Title($"x·y mod {modulus}, 50 % training data");
        plot.XLabel("optimisation steps (log scale)");
        plot.YLabel("accuracy");
        plot.Axes.SetLimitsY(0, 1.02);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 560);
    }
}
