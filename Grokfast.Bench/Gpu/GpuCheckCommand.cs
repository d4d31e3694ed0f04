using System.CommandLine;
using System.Text.Json;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;

namespace Grokfast.Bench.Gpu;

/// <summary>
/// The <c>gpu-check</c> verb: each fused filter on a CUDA device through the library's driver-API path, checked
/// against its CPU twin and timed against a device-to-device copy of its bytes — guarded, as filters step by default,
/// and the pass alone. It needs no libtorch, so it runs from a
/// self-contained publish on a GPU machine without the .NET SDK (tools/gpu/README.md).
/// </summary>
internal static class GpuCheckCommand
{
    /// <summary>Exit code when there is no CUDA driver or device.</summary>
    public const int NoDevice = 3;

    public static Command Create()
    {
        var elements = new Option<long>("--elements") { Description = "Gradient elements per filter.", DefaultValueFactory = _ => 16_777_216 };
        var steps = new Option<int>("--steps") { Description = "Steps compared with the CPU twin.", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print the figures as one JSON object." };
        var command = new Command("gpu-check", "Check each fused filter on a CUDA GPU against its CPU twin and time it against a device copy.") { elements, steps, json };
        elements.Validators.Add(result =>
        {
            long value = result.GetValueOrDefault<long>();
            if (value < 1 || value > int.MaxValue) result.AddError($"--elements must be in [1, {int.MaxValue}].");
        });
        steps.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 2) result.AddError("--steps must be at least 2.");
        });
        command.SetAction(parse => Run(parse.GetValue(elements), parse.GetValue(steps), parse.GetValue(json)));
        return command;
    }

    private static int Run(long elements, int steps, bool json)
    {
        string? why = CudaPrimaryContext.WhyUnavailable(0);
        if (why is not null)
        {
            Console.Error.WriteLine($"gpu-check needs a CUDA device, and {why}.");
            return NoDevice;
        }
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        var check = new GpuFilterCheck(context, elements, steps);
        EmaSettings ema = EmaSettings.From(0.98, 2.0);
        KalmanSettings kalman = KalmanSettings.From(1e-4, 1e-2, 2.0);
        int window = 100 <= steps ? 100 : Math.Max(1, steps / 2);
        WindowedMeanSettings ma = WindowedMeanSettings.From(window, mean: true, lamb: 5.0, warmup: true, trigger: false);
        var figures = new Dictionary<string, (GpuFigures Guarded, GpuFigures Unguarded)>
        {
            ["ema"] = check.Filter<EmaSettings, EmaConstants>(ema, ema, slots: 1),
            ["ma"] = check.Filter<WindowedMeanSettings, WindowedMeanConstants>(ma, ma with { Warmup = 0 }, slots: window),
            ["kalman"] = check.Filter<KalmanSettings, KalmanConstants>(kalman, kalman, slots: 1, kalman.MeasurementNoise),
        };

        string device = $"CUDA device 0, compute capability {context.ComputeCapability.Major}.{context.ComputeCapability.Minor}, {context.Multiprocessors} SMs";
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                device,
                elements,
                filters = figures.ToDictionary(f => f.Key, f => new { guarded = f.Value.Guarded.Json, unguarded = f.Value.Unguarded.Json }),
            }));
        }
        else
        {
            Console.WriteLine($"{device}; {elements:N0} elements; GPU time from CUDA events");
            Console.WriteLine($"filter             {GpuFigures.Header}");
            foreach ((string name, (GpuFigures guarded, GpuFigures unguarded)) in figures)
            {
                Console.WriteLine($"{name,-6} guarded    {guarded.Row}");
                Console.WriteLine($"{name,-6} pass only  {unguarded.Row}");
            }
        }
        return figures.Values.All(f => f.Guarded.Mismatches == 0) ? 0 : 1;
    }
}
