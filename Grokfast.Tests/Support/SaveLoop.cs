using Grokfast.Filters;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Support;

/// <summary>
/// A child process that saves checkpoints over one path, step after step, until it is killed: an EMA filter over
/// <see cref="Elements"/> elements (enough that a save takes a while) whose gradient at step k is k, saying
/// "saving k" before each save and "saved k" after it.
/// </summary>
internal static class SaveLoop
{
    public const string Verb = "save-loop";

    public const long Elements = 4 << 20;

    public const double Alpha = 0.5;

    /// <summary>Steps before the loop gives up by itself, should its parent die without killing it.</summary>
    private const int MaxSteps = 10_000;

    public static int Run(string path)
    {
        using var model = new DtypeModule([[Elements]], [ScalarType.Float32]);
        using var filter = new EmaFilter(model, alpha: Alpha, lamb: 0);
        for (int step = 1; step <= MaxSteps; step++)
        {
            using (Tensor k = torch.full(Elements, (float)step)) model.SetGradient(0, k);
            filter.step();
            Console.WriteLine($"saving {step}");
            filter.save(path);
            Console.WriteLine($"saved {step}");
        }
        return 0;
    }

    /// <summary>The filter's average after <paramref name="steps"/> steps, exactly as the loop's filter holds it (every element alike).</summary>
    public static float AverageAfter(int steps)
    {
        using var model = new DtypeModule([[1]], [ScalarType.Float32]);
        using var filter = new EmaFilter(model, alpha: Alpha, lamb: 0);
        for (int step = 1; step <= steps; step++)
        {
            using (Tensor k = torch.full(1, (float)step)) model.SetGradient(0, k);
            filter.step();
        }
        IReadOnlyDictionary<string, Tensor> state = filter.state();
        using Tensor average = state["average"];
        return average.item<float>();
    }
}
