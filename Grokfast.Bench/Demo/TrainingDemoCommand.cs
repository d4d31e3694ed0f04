using System.CommandLine;
using System.Diagnostics;
using Grokfast.Bench.Support;
using Grokfast.Filters;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Demo;

/// <summary>
/// The <c>demo</c> verb: a short TorchSharp training loop with the fused EMA filter between
/// <c>backward()</c> and <c>optimizer.step()</c>, printing what the filter did.
/// </summary>
internal static class TrainingDemoCommand
{
    public const int DefaultSteps = 200;

    public static Command Create()
    {
        var steps = new Option<int>("--steps") { Description = "Training steps.", DefaultValueFactory = _ => DefaultSteps };
        var command = new Command("demo", "Train a small MLP with the fused EMA filter and report what it did.") { steps };
        steps.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError("--steps must be at least 1.");
        });
        command.SetAction(parse => Run(parse.GetValue(steps)));
        return command;
    }

    public static int Run(int steps)
    {
        Console.WriteLine($"Machine: {MachineInfo.Describe()}");
        torch.manual_seed(0);
        using var model = Sequential(Linear(32, 256), GELU(), Linear(256, 256), GELU(), Linear(256, 10));
        var generator = new torch.Generator(0);
        using Tensor inputs = torch.randn(1024, 32, generator: generator);
        using Tensor targets = torch.randint(0, 10, [1024], generator: generator);
        using var optimizer = torch.optim.Adam(model.parameters(), lr: 1e-3);
        using var grokfast = new EmaFilter(model, alpha: 0.98, lamb: 2.0);
        Console.WriteLine($"EMA filter over {grokfast.ElementCount:N0} parameters in one flat buffer, backend {grokfast.Backend}.");

        TimeSpan filterTime = TimeSpan.Zero;
        long copiesAtFirstStep = 0;
        var total = Stopwatch.StartNew();
        for (int step = 1; step <= steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            Tensor loss = functional.cross_entropy(model.forward(inputs), targets);
            loss.backward();
            long filterStart = Stopwatch.GetTimestamp();
            grokfast.step();
            filterTime += Stopwatch.GetElapsedTime(filterStart);
            if (step == 1) copiesAtFirstStep = grokfast.GradientCopies;
            optimizer.step();
            optimizer.zero_grad();
            if (step == 1 || step % 20 == 0 || step == steps)
                Console.WriteLine($"step {step,4}  loss {loss.item<float>():F4}");
        }
        total.Stop();
        Console.WriteLine($"{steps} steps in {total.Elapsed.TotalSeconds:F2} s; the filter took {filterTime.TotalMilliseconds:F1} ms " +
            $"({filterTime / total.Elapsed:P2} of the loop).");
        Console.WriteLine($"Gradients copied into the flat buffer: {copiesAtFirstStep} at the first step (backward() created them), " +
            $"{grokfast.GradientCopies - copiesAtFirstStep} in the {steps - 1} steps after.");
        return 0;
    }
}
