using Grokfast.Filters;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

/// <summary>The docs' usage examples are this code: it runs here, and the docs must show it verbatim (DocumentationTests).</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void UsageExample_Runs_AndLowersTheLoss()
    {
        torch.manual_seed(0);
        using Tensor inputs = torch.randn(256, 10);
        using Tensor targets = inputs.sum(1, keepdim: true);
        float firstLoss = float.NaN, lastLoss = float.NaN;

        // README:begin
        using var model = Sequential(Linear(10, 32), ReLU(), Linear(32, 1));
        using var optimizer = torch.optim.Adam(model.parameters(), lr: 1e-2);
        using var grokfast = new EmaFilter(model, alpha: 0.98, lamb: 2.0);

        for (int step = 0; step < 100; step++)
        {
            using var scope = torch.NewDisposeScope();
            Tensor loss = functional.mse_loss(model.forward(inputs), targets);
            loss.backward();
            grokfast.step();   // amplify the slow component of every gradient, in place
            optimizer.step();
            optimizer.zero_grad();
            // README:end
            if (step == 0) firstLoss = loss.item<float>();
            lastLoss = loss.item<float>();
        }

        Assert.True(lastLoss < firstLoss / 10, $"loss went from {firstLoss} to {lastLoss}");
        Assert.Equal(100, grokfast.StepCount);
        // The filter acted: the same training with it switched off ends elsewhere.
        AssertEndsElsewhereWithoutTheFilter(TinyMlp.Flatten(model.parameters()), inputs, targets,
            plainModel => torch.optim.Adam(plainModel.parameters(), lr: 1e-2));
    }

    [Fact]
    public void FusedOptimizerExample_Runs_AndLowersTheLoss()
    {
        torch.manual_seed(0);
        using Tensor inputs = torch.randn(256, 10);
        using Tensor targets = inputs.sum(1, keepdim: true);
        float firstLoss = float.NaN, lastLoss = float.NaN;

        // README-optimizer:begin
        using var model = Sequential(Linear(10, 32), ReLU(), Linear(32, 1));
        using var optimizer = new GrokfastAdamW(model, lr: 1e-2, weight_decay: 1e-2,
            grokfast: GrokfastFilter.Ema(alpha: 0.98, lamb: 2.0));

        for (int step = 0; step < 100; step++)
        {
            using var scope = torch.NewDisposeScope();
            Tensor loss = functional.mse_loss(model.forward(inputs), targets);
            loss.backward();
            optimizer.step();   // the filter and AdamW in one pass over every parameter
            optimizer.zero_grad();
            // README-optimizer:end
            if (step == 0) firstLoss = loss.item<float>();
            lastLoss = loss.item<float>();
        }

        Assert.True(lastLoss < firstLoss / 10, $"loss went from {firstLoss} to {lastLoss}");
        Assert.Equal(100, optimizer.StepCount);
        // The filter acted: the same training without it ends elsewhere.
        AssertEndsElsewhereWithoutTheFilter(TinyMlp.Flatten(model.parameters()), inputs, targets,
            plainModel => new GrokfastAdamW(plainModel, lr: 1e-2, weight_decay: 1e-2));
    }

    [Fact]
    public void TrainingRecipeExample_Runs_LowersTheLoss_AndSchedulesEachGroup()
    {
        torch.manual_seed(0);
        using Tensor tokens = torch.randint(0, 20, [256, 4]);
        using Tensor targets = tokens.sum(1, keepdim: true).to(ScalarType.Float32).div_(10);
        float firstLoss = float.NaN, lastLoss = float.NaN;

        // README-recipe:begin
        using var model = Sequential(("embed", Embedding(20, 8)), ("flatten", Flatten()), ("hidden", Linear(32, 32)),
            ("norm", LayerNorm(32)), ("relu", ReLU()), ("out", Linear(32, 1)));
        // Weight decay on the weight matrices; none on biases, norms and embeddings.
        bool decays((string name, Parameter parameter) p) => p.parameter.dim() >= 2 && !p.name.StartsWith("embed", StringComparison.Ordinal);
        using var optimizer = new GrokfastAdamW(
            [new GrokfastAdamW.ParamGroup(model.named_parameters().Where(decays).Select(p => p.parameter), weight_decay: 0.1),
             new GrokfastAdamW.ParamGroup(model.named_parameters().Where(p => !decays(p)).Select(p => p.parameter), weight_decay: 0.0)],
            lr: 3e-3, grokfast: GrokfastFilter.Ema(alpha: 0.98, lamb: 2.0))
        {
            max_grad_norm = 1.0,   // clip_grad_norm_(…, 1.0), fused into the step
        };
        // Linear warm-up, then cosine decay, each group from its own rate.
        const int steps = 200, warmup = 20;
        var schedule = torch.optim.lr_scheduler.LambdaLR(optimizer,
            step => step < warmup ? (step + 1.0) / warmup : 0.5 * (1 + Math.Cos(Math.PI * (step - warmup) / (steps - warmup))));

        for (int step = 0; step < steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            Tensor loss = functional.mse_loss(model.forward(tokens), targets);
            loss.backward();
            optimizer.step();
            schedule.step();
            optimizer.zero_grad();
            // README-recipe:end
            if (step == 0) firstLoss = loss.item<float>();
            lastLoss = loss.item<float>();
        }

        Assert.True(lastLoss < firstLoss / 10, $"loss went from {firstLoss} to {lastLoss}");
        Assert.Equal([0.1, 0.0], optimizer.param_groups.Select(g => g.Options.weight_decay!.Value));
        // Decay: hidden.weight, out.weight; none: embed.weight, hidden.bias, norm.weight, norm.bias, out.bias.
        Assert.Equal([2, 5], optimizer.param_groups.Select(g => g.Parameters.Count()));
        Assert.All(optimizer.param_groups, g => Assert.Equal(0, g.LearningRate, 12));
        using Tensor norm = optimizer.grad_norm();
        Assert.InRange(norm.item<double>(), 1e-6, 1e3);
    }

    /// <summary>
    /// Trains the example's model from the same initial weights (the same seed, the inputs drawn first as above) with
    /// <paramref name="plainOptimizer"/> and no filter, and checks the weights end far from <paramref name="filtered"/>.
    /// </summary>
    private static void AssertEndsElsewhereWithoutTheFilter(float[] filtered, Tensor inputs, Tensor targets, Func<Module, optim.Optimizer> plainOptimizer)
    {
        torch.manual_seed(0);
        torch.randn(256, 10).Dispose();
        using var plainModel = Sequential(Linear(10, 32), ReLU(), Linear(32, 1));
        using optim.Optimizer optimizer = plainOptimizer(plainModel);
        for (int step = 0; step < 100; step++)
        {
            using var scope = torch.NewDisposeScope();
            functional.mse_loss(plainModel.forward(inputs), targets).backward();
            optimizer.step();
            optimizer.zero_grad();
        }
        double largest = filtered.Zip(TinyMlp.Flatten(plainModel.parameters()), (a, b) => Math.Abs(a - b)).Max();
        Assert.True(largest > 1e-2, $"training with and without the filter ends within {largest}");
    }
}
