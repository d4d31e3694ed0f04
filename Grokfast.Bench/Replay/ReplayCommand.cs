using System.CommandLine;
using Grokfast.Reference.Npy;
using Grokfast.Bench.Support;
using Grokfast.Filters;
using static TorchSharp.torch;

namespace Grokfast.Bench.Replay;

/// <summary>
/// The <c>replay</c> verb: a recorded (T, N) float32 or float16 gradient trace through a fused filter, from .npy to .npy
/// of the same dtype.
/// Bad input gets one line on stderr, exit code 2 and no output file.
/// </summary>
internal static class ReplayCommand
{
    public const int BadInput = 2;

    public static Command Create()
    {
        var filter = new Option<string>("--filter") { Description = "The filter: ema, ma or kalman.", Required = true };
        filter.AcceptOnlyFromAmong([.. FilterChoice.Kinds]);
        var input = new Option<FileInfo>("--input") { Description = "A .npy float32 or float16 array of shape (T, N): row t is the gradient at step t.", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "Where to write the filtered (T, N) array, in the input's dtype.", Required = true };
        var alpha = new Option<double>("--alpha") { Description = "EMA momentum, in [0, 1).", DefaultValueFactory = _ => EmaFilter.DefaultAlpha };
        var lamb = new Option<double?>("--lamb") { Description = $"Amplification; the filter's own default when omitted (ema {EmaFilter.DefaultLamb}, ma {WindowedMeanFilter.DefaultLamb}, kalman {KalmanFilter.DefaultLamb})." };
        var windowSize = new Option<int>("--window-size") { Description = "MA window, at least 1.", DefaultValueFactory = _ => WindowedMeanFilter.DefaultWindowSize };
        var filterType = new Option<string>("--filter-type") { Description = "MA aggregation: mean or sum.", DefaultValueFactory = _ => "mean" };
        filterType.AcceptOnlyFromAmong("mean", "sum");
        var warmup = new Option<bool>("--warmup") { Description = "MA: add nothing until the window is full.", DefaultValueFactory = _ => true, Arity = ArgumentArity.ExactlyOne };
        var trigger = new Option<bool>("--trigger") { Description = "MA: the reference's ablation switch.", DefaultValueFactory = _ => false, Arity = ArgumentArity.ExactlyOne };
        var processNoise = new Option<double>("--process-noise") { Description = "Kalman Q, >= 0.", DefaultValueFactory = _ => KalmanFilter.DefaultProcessNoise };
        var measurementNoise = new Option<double>("--measurement-noise") { Description = "Kalman R, > 0.", DefaultValueFactory = _ => KalmanFilter.DefaultMeasurementNoise };
        var skipNonFinite = new Option<bool>("--skip-non-finite")
        {
            Description = "Skip a step whose row holds a NaN or ±Inf (its row written back as it came, the state untouched), as a filter does by default; false filters such rows as numbers.",
            DefaultValueFactory = _ => true,
            Arity = ArgumentArity.ExactlyOne,
        };
        var plot = new Option<FileInfo?>("--plot") { Description = "Also draw the raw and filtered signal of one element to this PNG." };
        var element = new Option<int>("--element") { Description = "The element --plot draws.", DefaultValueFactory = _ => 0 };
        var command = new Command("replay", "Run a recorded gradient trace through a fused filter.")
        {
            filter, input, output, alpha, lamb, windowSize, filterType, warmup, trigger, processNoise, measurementNoise, skipNonFinite, plot, element,
        };
        command.SetAction(parse => Run(
            parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(plot), parse.GetValue(element), parse.GetValue(skipNonFinite),
            new FilterChoice(parse.GetValue(filter)!)
            {
                Alpha = parse.GetValue(alpha),
                Lamb = parse.GetValue(lamb),
                WindowSize = parse.GetValue(windowSize),
                FilterType = parse.GetValue(filterType) == "sum" ? WindowAggregation.Sum : WindowAggregation.Mean,
                Warmup = parse.GetValue(warmup),
                Trigger = parse.GetValue(trigger),
                ProcessNoise = parse.GetValue(processNoise),
                MeasurementNoise = parse.GetValue(measurementNoise),
            }));
        return command;
    }

    private static int Run(FileInfo input, FileInfo output, FileInfo? plot, int element, bool skipNonFinite, FilterChoice options)
    {
        try
        {
            if (!input.Exists) throw new FileNotFoundException($"--input: {input.FullName} does not exist.");
            (float[] trace, long[] shape, ScalarType dtype) = NpyFile.Read(input.FullName);
            if (shape.Length != 2)
                throw new InvalidDataException($"--input: expected a 2-D (T, N) array, got shape ({string.Join(", ", shape)}).");
            int steps = checked((int)shape[0]), width = checked((int)shape[1]);
            if (steps == 0 || width == 0) throw new InvalidDataException($"--input: the trace is empty, shape ({steps}, {width}).");
            if (plot is not null && (element < 0 || element >= width))
                throw new ArgumentOutOfRangeException(nameof(element), element, $"--element must be in [0, {width}), got {element}.");

            (float[] filtered, IReadOnlyList<int> skipped) = TraceReplay.Run(trace, steps, width, options, dtype, skipNonFinite);

            NpyFile.Write(output.FullName, filtered, shape, dtype);
            if (plot is not null)
                ResponsePlot.Save(plot.FullName, trace, filtered, steps, width, element, $"{options.Kind} filter, element {element}");
            Console.WriteLine($"Filtered {steps} steps of {width} {(dtype == ScalarType.Float16 ? "float16" : "float32")} elements with {options.Kind}; wrote {output.FullName}" +
                (plot is null ? "." : $" and {plot.FullName}."));
            if (skipped.Count > 0) Console.WriteLine(SkipReport(skipped, steps));
            return 0;
        }
        catch (Exception error) when (error is ArgumentException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"replay: {FirstLine(error.Message)}");
            return BadInput;
        }
    }

    /// <summary>"2 of 2 steps skipped: non-finite gradients at steps 0, 1 (…)", the first ten steps listed.</summary>
    internal static string SkipReport(IReadOnlyList<int> skipped, int steps)
    {
        const int listed = 10;
        string more = skipped.Count > listed ? $" and {skipped.Count - listed} more" : "";
        return $"{skipped.Count} of {steps} steps skipped: non-finite gradients at step{(skipped.Count == 1 ? "" : "s")} {string.Join(", ", skipped.Take(listed))}{more} " +
            "(their rows written back unfiltered; --skip-non-finite false filters them as numbers).";
    }

    private static string FirstLine(string message) => message.Split('\n')[0].TrimEnd();
}
