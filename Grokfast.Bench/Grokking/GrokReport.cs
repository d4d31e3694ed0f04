using System.Globalization;
using System.Text.Json;
using Grokfast.Bench.Plotting;
using ScottPlot;

namespace Grokfast.Bench.Grokking;

/// <summary>Writes a grokking session's files: metrics.csv, summary.json and curves.png.</summary>
internal static class GrokReport
{
    public const string CsvHeader = "run,step,epoch,train_loss,train_acc,val_loss,val_acc,elapsed_s";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void WriteAll(string folder, IReadOnlyList<GrokRunResult> results, int seed, string machine)
    {
        Directory.CreateDirectory(folder);
        WriteCsv(Path.Combine(folder, "metrics.csv"), results);
        WriteSummary(Path.Combine(folder, "summary.json"), results, seed, machine);
        WriteCurves(Path.Combine(folder, "curves.png"), results);
    }

    private static void WriteCsv(string path, IReadOnlyList<GrokRunResult> results)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine(CsvHeader);
        foreach (GrokEvaluation e in results.SelectMany(r => r.Evaluations))
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{e.Run},{e.Step},{e.Epoch},{e.TrainLoss:G6},{e.TrainAccuracy:G6},{e.ValidLoss:G6},{e.ValidAccuracy:G6},{e.ElapsedSeconds:F3}"));
    }

    private static void WriteSummary(string path, IReadOnlyList<GrokRunResult> results, int seed, string machine)
    {
        var summary = new
        {
            machine,
            date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            seed,
            runs = results.Select(r => new
            {
                name = r.Settings.Name,
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
                dtype = GrokCommand.DtypeName(r.Dtype),
                optimizer_share = r.OptimizerShare,
                optimizer_ms_per_step = r.MeanOptimizerMilliseconds,
            }),
        };
        File.WriteAllText(path, JsonSerializer.Serialize(summary, Indented));
    }

    /// <summary>Train (dashed) and validation (solid) accuracy against steps on a log axis, a colour per run, as the paper's figure.</summary>
    private static void WriteCurves(string path, IReadOnlyList<GrokRunResult> results)
    {
        Plot plot = PlotFont.NewPlot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < results.Count; i++)
        {
            GrokRunResult r = results[i];
            double[] steps = r.Evaluations.Select(e => Math.Log10(e.Step)).ToArray();
            Color color = palette.GetColor(i);
            var train = plot.Add.ScatterLine(steps, r.Evaluations.Select(e => e.TrainAccuracy).ToArray(), color);
            train.LegendText = $"{r.Settings.Name} train";
            train.LinePattern = LinePattern.Dashed;
            var valid = plot.Add.ScatterLine(steps, r.Evaluations.Select(e => e.ValidAccuracy).ToArray(), color);
            valid.LegendText = $"{r.Settings.Name} validation";
            valid.LineWidth = 2;
        }
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = exponent => Math.Pow(10, exponent).ToString("N0", CultureInfo.InvariantCulture),
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
        };
        plot.Axes.Bottom.TickGenerator = ticks;
        plot.Title($"x·y mod {ModularMultiplication.Modulus}, 50 % training data");
        plot.XLabel("optimisation steps (log scale)");
        plot.YLabel("accuracy");
        plot.Axes.SetLimitsY(0, 1.02);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 560);
    }
}
