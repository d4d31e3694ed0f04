using Grokfast.Kernels.Distributed;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Grokfast.Bench.Support;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bench.Grokking;

/// <summary>
/// The <c>grok</c> verb, the main job: the paper's modular-multiplication experiment with each filter and a
/// no-filter baseline, a live progress display, a summary table beside the paper's figures, and
/// metrics.csv, summary.json and curves.png.
/// </summary>
internal static class GrokCommand
{
    /// <summary>Step budgets of the default session, sized to finish in about five minutes on a 2-core CPU.</summary>
    public static IReadOnlyList<GrokRunSettings> DefaultRuns { get; } =
    [
        // The baseline runs long enough to memorise the training half (here by ~500 steps) while validation
        // stays near chance; grokking takes it ~40,000 steps (--filter none --steps 40000).
        new("baseline", null, WeightDecay: 0, Steps: 800, PaperStepsTo95: 39_890),
        // The paper's settings: EMA alpha 0.98, lamb 2; MA window 100, lamb 5; Kalman at the pull request's defaults.
        new("ema", new FilterChoice("ema") { Alpha = 0.98, Lamb = 2.0 }, WeightDecay: 0.005, Steps: 1200, PaperStepsTo95: 910),
        new("ma", new FilterChoice("ma") { WindowSize = 100, Lamb = 5.0 }, WeightDecay: 0.01, Steps: 1200, PaperStepsTo95: 790),
        new("kalman", new FilterChoice("kalman"), WeightDecay: 0.005, Steps: 1200, PaperStepsTo95: null),
    ];

    /// <summary>Bounds on the task and model sizes, far past the paper's, that keep a typo from allocating the machine away.</summary>
    private const int MaxModulus = 1000, MaxWidth = 4096;

    public static Command Create()
    {
        var filter = new Option<string>("--filter") { Description = "Which runs: all, or some of none, ema, ma, kalman, comma-separated (e.g. ema,ma).", DefaultValueFactory = _ => "all" };
        filter.Validators.Add(r => AddErrorIfBad(r, text => RunSelection.Select(text, DefaultRuns)));
        var steps = new Option<int?>("--steps") { Description = "Step budget of every selected run (default: each run's own)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the weights, the split and the shuffling.", DefaultValueFactory = _ => 0 };
        var seeds = new Option<string?>("--seeds") { Description = "Run every selected run once per seed: a list and ranges, e.g. 0,1,2 or 0-4 (overrides --seed)." };
        seeds.Validators.Add(r => AddErrorIfBad(r, text => SeedList.Parse(text)));
        var stopAt = new Option<double?>("--stop-at") { Description = "Stop a run after the first epoch whose validation accuracy reaches this (e.g. 0.95); off by default." };
        stopAt.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is double value && !(value > 0 && value <= 1)) r.AddError($"--stop-at must be in (0, 1], got {value}.");
        });
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder for metrics.csv, summary.json and curves.png.", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("out", "grok")) };
        // No default value: it depends on the machine (and docs/cli.md is generated from these definitions).
        var device = new Option<string>("--device") { Description = "cpu or cuda (default: cuda when available)." };
        device.AcceptOnlyFromAmong("cpu", "cuda");
        device.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() == "cuda" && !torch.cuda.is_available()) r.AddError("--device cuda: no CUDA device is available to TorchSharp here.");
        });
        var weightDecay = new Option<double?>("--weight-decay") { Description = "Adam's weight decay for every selected run (default: the paper's per filter)." };
        var alpha = new Option<double?>("--alpha") { Description = "EMA momentum (default: the paper's 0.98)." };
        var lamb = new Option<double?>("--lamb") { Description = "Amplification for every selected filter (default: the paper's, ema 2, ma 5, kalman 2)." };
        var windowSize = new Option<int?>("--window-size") { Description = "MA window (default: the paper's 100)." };
        var processNoise = new Option<double?>("--process-noise") { Description = "Kalman Q (default: 1e-4)." };
        var measurementNoise = new Option<double?>("--measurement-noise") { Description = "Kalman R (default: 1e-2)." };
        var optimizer = new Option<string>("--optimizer")
        {
            Description = "fused: the filter and Adam in one pass (GrokfastAdam); torch: the filter's step, then TorchSharp's Adam.",
            DefaultValueFactory = _ => "fused",
        };
        optimizer.AcceptOnlyFromAmong("fused", "torch");
        var dtype = new Option<string>("--dtype")
        {
            Description = "The model's and the optimizer's precision: float32, bfloat16 or float16 (the fused optimizer keeps float32 master weights).",
            DefaultValueFactory = _ => "float32",
        };
        dtype.AcceptOnlyFromAmong(DtypeOption.Names);
        steps.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1) r.AddError("--steps must be at least 1.");
        });
        var modulus = new Option<int>("--modulus")
        {
            Description = "The task's p in x·y mod p (the paper's 97); a small p is the same task in miniature.",
            DefaultValueFactory = _ => ModularMultiplication.PaperModulus,
        };
        modulus.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is int p && p is < ModularMultiplication.MinModulus or > MaxModulus)
                r.AddError($"--modulus must be in [{ModularMultiplication.MinModulus}, {MaxModulus}], got {p}.");
        });
        var shard = new Option<bool>("--shard") { Description = "Under mpirun: shard the optimizer state over the ranks (ZeRO-1) instead of averaging whole gradient buffers." };
        var width = new Option<int>("--width")
        {
            Description = $"The model's width (the paper's {GrokkingTransformer.PaperWidth}), a multiple of its {GrokkingTransformer.PaperHeads} attention heads.",
            DefaultValueFactory = _ => GrokkingTransformer.PaperWidth,
        };
        width.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is int w && (w < GrokkingTransformer.PaperHeads || w > MaxWidth || w % GrokkingTransformer.PaperHeads != 0))
                r.AddError($"--width must be a multiple of {GrokkingTransformer.PaperHeads} in [{GrokkingTransformer.PaperHeads}, {MaxWidth}], got {w}.");
        });
        var command = new Command("grok", "Reproduce the paper's grokking speed-up on x·y mod 97 with each filter and a baseline.")
        {
            filter, steps, seed, seeds, stopAt, output, device, optimizer, dtype, modulus, width, weightDecay, alpha, lamb, windowSize, processNoise, measurementNoise, shard,
        };

        command.SetAction(parse =>
        {
            IEnumerable<GrokRunSettings> runs = RunSelection.Select(parse.GetValue(filter)!, DefaultRuns);
            (int p, int w) = (parse.GetValue(modulus), parse.GetValue(width));
            bool papersSetup = p == ModularMultiplication.PaperModulus && w == GrokkingTransformer.PaperWidth;
            runs = runs.Select(r => r with
            {
                Steps = parse.GetValue(steps) ?? r.Steps,
                // The paper's step counts are for its task and model only.
                PaperStepsTo95 = papersSetup ? r.PaperStepsTo95 : null,
                WeightDecay = parse.GetValue(weightDecay) ?? r.WeightDecay,
                Filter = r.Filter is null ? null : r.Filter with
                {
                    Alpha = parse.GetValue(alpha) ?? r.Filter.Alpha,
                    Lamb = parse.GetValue(lamb) ?? r.Filter.Lamb,
                    WindowSize = parse.GetValue(windowSize) ?? r.Filter.WindowSize,
                    ProcessNoise = parse.GetValue(processNoise) ?? r.Filter.ProcessNoise,
                    MeasurementNoise = parse.GetValue(measurementNoise) ?? r.Filter.MeasurementNoise,
                },
            });
            string deviceName = parse.GetValue(device) ?? (torch.cuda.is_available() ? "cuda" : "cpu");
            GrokOptimizer path = parse.GetValue(optimizer) == "torch" ? GrokOptimizer.Torch : GrokOptimizer.Fused;
            IReadOnlyList<int> seedList = parse.GetValue(seeds) is string list ? SeedList.Parse(list) : [parse.GetValue(seed)];
            ScalarType dtypeChosen = DtypeOption.Parse(parse.GetValue(dtype)!);
            // Started by mpirun (or torchrun) with more than one rank: data parallel, each rank a slice of every batch, the
            // fused optimizer averaging the gradients — over MPI on the CPU, over NCCL on each rank's GPU.
            if (LaunchEnvironment.Read() is not { WorldSize: > 1 }) return Run(new GrokSession(runs.ToList(), seedList, new Device(deviceName), path,
                dtypeChosen, parse.GetValue(stopAt), parse.GetValue(output)!.FullName, p, w));
            bool cuda = deviceName.StartsWith("cuda", StringComparison.Ordinal);
            if (path != GrokOptimizer.Fused || (cuda && parse.GetValue(shard)))
            {
                Console.Error.WriteLine("Data parallel, grok trains with the fused optimizer (--optimizer fused); --shard (ZeRO-1) on the CPU only.");
                return 2;
            }
            using DataParallelRanks ranks = DataParallelRanks.Start(cuda);
            return Run(new GrokSession(runs.ToList(), seedList, ranks.Device, path, dtypeChosen, parse.GetValue(stopAt),
                parse.GetValue(output)!.FullName, p, w, ranks.Communicator, parse.GetValue(shard)));
        });
        return command;
    }

    /// <summary>Runs every run of <paramref name="session"/> once per seed and writes the files; returns the process exit code.</summary>
    public static int Run(GrokSession session)
    {
        // Data parallel: rank 0 reports and writes the files; the other ranks train beside it in silence.
        bool reports = session.Ranks is not { Rank: > 0 };
        if (!reports)
        {
            Console.SetOut(TextWriter.Null);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
        }
        string machine = MachineInfo.Describe();
        double copyGBps = MachineInfo.CopyGBps();
        // Where output is not a terminal Spectre assumes 80 columns; the summary table needs more.
        if (!AnsiConsole.Profile.Capabilities.Interactive) AnsiConsole.Profile.Width = 120;
        string seeds = session.Seeds.Count == 1 ? $"seed {session.Seeds[0]}" : $"seeds {string.Join(",", session.Seeds)}";
        AnsiConsole.MarkupLine($"[bold]Grokfast.NET[/] — x·y mod {session.Modulus}, width {session.Width}, {session.Device.type} ({Markup.Escape(machine)}, copy {copyGBps.ToString("F1", CultureInfo.InvariantCulture)} GB/s), {DtypeOption.Name(session.Dtype)}, {seeds}, " +
            (session.Optimizer == GrokOptimizer.Fused ? "fused optimizer (filter + Adam in one pass)" : "filter, then TorchSharp's Adam") +
            (session.StopAt is double stop ? Invariant($", stopping at {stop:P0} validation") : "") +
            (session.Ranks is { } ranks ? $", data parallel over {ranks.WorldSize} ranks{(session.Sharded ? ", optimizer state sharded (ZeRO-1)" : "")}" : ""));
        (GrokRunSettings Run, int Seed)[] work = session.Seeds.SelectMany(seed => session.Runs.Select(run => (run, seed))).ToArray();
        var results = new List<GrokRunResult>();
        if (AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(context =>
                {
                    ProgressTask[] tasks = work.Select(w => context.AddTask(Describe(Label(w.Run, w.Seed, session), null), autoStart: false, maxValue: w.Run.Steps)).ToArray();
                    for (int i = 0; i < work.Length; i++)
                    {
                        (GrokRunSettings run, int seed) = work[i];
                        ProgressTask task = tasks[i];
                        task.StartTask();
                        results.Add(GrokTrainer.Run(run, seed, session, e =>
                        {
                            task.Value = Math.Min(e.Step, run.Steps);
                            task.Description = Describe(Label(run, seed, session), e);
                        }));
                        task.Value = task.MaxValue;
                        task.StopTask();
                    }
                });
        }
        else
        {
            // No live display where output is not a terminal (CI, pipes): a line every 50 epochs instead.
            foreach ((GrokRunSettings run, int seed) in work)
                results.Add(GrokTrainer.Run(run, seed, session, e =>
                {
                    if (e.Epoch % 50 == 0 || e.Step >= run.Steps) Console.WriteLine(Describe(Label(run, seed, session), e));
                }));
        }
        if (reports) GrokReport.WriteAll(session, results, machine, copyGBps);
        AnsiConsole.Write(session.Seeds.Count == 1 ? SummaryTable(results) : SeedTable(results));
        AnsiConsole.MarkupLine($"Wrote [bold]{Markup.Escape(Path.Combine(session.OutputFolder, "metrics.csv"))}[/], summary.json and curves.png.");
        return 0;
    }

    /// <summary>Per run, over the seeds: how many reached 95 % validation, the median and range of their steps, beside the paper.</summary>
    /// <summary>Reports the <see cref="FormatException"/> a parser throws on the option's text as the option's error.</summary>
    private static void AddErrorIfBad(OptionResult result, Action<string> parse)
    {
        if (result.GetValueOrDefault<string?>() is not string text) return;
        try
        {
            parse(text);
        }
        catch (FormatException error)
        {
            result.AddError(error.Message);
        }
    }

    private static Table SeedTable(IReadOnlyList<GrokRunResult> results)
    {
        var table = new Table().Border(TableBorder.Minimal)
            .Title("Steps to 95 % validation accuracy over seeds, beside the paper (arXiv 2405.20233)")
            .Caption("reached: seeds that reached 95 % within the budget; median counts the others as later than every one that did; stopped: runs ended early by --stop-at");
        foreach (string column in new[] { "run", "reached", "median", "range", "paper", "stopped", "wall s (median)", "ms/step (median)" })
            table.AddColumn(column == "run" ? new TableColumn(column) : new TableColumn(column).RightAligned());
        foreach (IGrouping<string, GrokRunResult> run in results.GroupBy(r => r.Settings.Name))
        {
            GrokSeedSummary s = GrokSeedSummary.Of(run.Key, run);
            table.AddRow(
                run.Key,
                Invariant($"{s.Reached}/{s.Seeds}"),
                s.Median is double median ? Invariant($"{median:N0}") : Invariant($"> {s.Budget:N0}"),
                s.Fastest is int fastest ? Invariant($"{fastest:N0}–{s.Slowest:N0}") + (s.Reached < s.Seeds ? Invariant($", > {s.Budget:N0}") : "") : Invariant($"> {s.Budget:N0}"),
                run.First().Settings.PaperStepsTo95 is int paper ? Invariant($"{paper:N0}") : "-",
                Invariant($"{run.Count(r => r.StoppedEarly)}/{s.Seeds}"),
                Invariant($"{Median(run.Select(r => r.WallSeconds)):F0}"),
                Invariant($"{Median(run.Select(r => r.MeanStepMilliseconds)):F1}"));
        }
        return table;
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Label(GrokRunSettings run, int seed, GrokSession session) => session.Seeds.Count == 1 ? run.Name : $"{run.Name} s{seed}";

    private static string Describe(string name, GrokEvaluation? e) => e is null
        ? $"{name,-9} waiting"
        : string.Create(CultureInfo.InvariantCulture,
            $"{name,-9} step {e.Step,6}  loss {e.TrainLoss:F3}  train {e.TrainAccuracy,6:P1}  val {e.ValidAccuracy,6:P1}");

    private static Table SummaryTable(IReadOnlyList<GrokRunResult> results)
    {
        var table = new Table().Border(TableBorder.Minimal)
            .Title("Steps to 95 % validation accuracy, beside the paper (arXiv 2405.20233)")
            .Caption("wd: weight decay; opt. ms, opt.: time per step spent filtering and updating (the fused step, or the filter's step plus Adam's), and its share of the step");
        foreach (string column in new[] { "run", "wd", "95% val", "paper", "99% train", "final val", "wall s", "ms/step", "opt. ms", "opt." })
            table.AddColumn(column == "run" ? new TableColumn(column) : new TableColumn(column).RightAligned());
        foreach (GrokRunResult r in results)
        {
            table.AddRow(
                r.Settings.Name,
                Invariant($"{r.Settings.WeightDecay:G3}"),
                (r.StepsTo95Valid is int reached ? Invariant($"{reached:N0}") : Invariant($"> {r.StepsRun:N0}")) + (r.StoppedEarly ? " (stopped)" : ""),
                r.Settings.PaperStepsTo95 is int paper ? Invariant($"{paper:N0}") : "-",
                r.StepsTo99Train is int memorised ? Invariant($"{memorised:N0}") : Invariant($"> {r.StepsRun:N0}"),
                Invariant($"{r.FinalValidAccuracy:P1}"),
                Invariant($"{r.WallSeconds:F0}"),
                Invariant($"{r.MeanStepMilliseconds:F1}"),
                Invariant($"{r.MeanOptimizerMilliseconds:F2}"),
                Invariant($"{r.OptimizerShare:P1}"));
        }
        return table;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
