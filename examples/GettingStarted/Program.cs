// README:begin
using Grokfast.Filters;
using Grokfast.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

// Your own model and data: here a small MLP learning y = sin(x0) + x1·x2.
torch.manual_seed(0);
Tensor inputs = torch.randn(1024, 3);
Tensor targets = (torch.sin(inputs[.., 0]) + inputs[.., 1] * inputs[.., 2]).unsqueeze(1);
string folder = Directory.CreateTempSubdirectory("grokfast-example-").FullName;

float Train(Module<Tensor, Tensor> model, EmaFilter grokfast, int steps)
{
    using var optimizer = torch.optim.Adam(model.parameters(), lr: 1e-3);
    float loss = float.NaN;
    for (int step = 0; step < steps; step++)
    {
        using var scope = torch.NewDisposeScope();
        Tensor batchLoss = functional.mse_loss(model.forward(inputs), targets);
        batchLoss.backward();
        grokfast.step();          // amplify the slow component of every gradient, in place
        optimizer.step();
        optimizer.zero_grad();
        loss = batchLoss.item<float>();
    }
    return loss;
}

// Train, then save the model and the filter's state.
using (var model = Sequential(Linear(3, 64), GELU(), Linear(64, 1)))
using (var grokfast = new EmaFilter(model, alpha: 0.98, lamb: 2.0))
{
    Console.WriteLine($"loss after 200 steps: {Train(model, grokfast, 200):F4}");
    model.save(Path.Combine(folder, "model.bin"));
    grokfast.save(Path.Combine(folder, "grokfast.gfst"));
}

// Later: rebuild both, load them, and carry on where training stopped.
using (var model = Sequential(Linear(3, 64), GELU(), Linear(64, 1)))
using (var grokfast = new EmaFilter(model, alpha: 0.98, lamb: 2.0))
{
    model.load(Path.Combine(folder, "model.bin"));
    grokfast.load(Path.Combine(folder, "grokfast.gfst"));
    Console.WriteLine($"resumed at filter step {grokfast.StepCount}; loss after 200 more: {Train(model, grokfast, 200):F4}");
}

// Or the filter inside the optimizer: GrokfastAdamW runs it and AdamW in one pass over every parameter.
using (var model = Sequential(Linear(3, 64), GELU(), Linear(64, 1)))
using (var optimizer = new GrokfastAdamW(model, lr: 1e-3, weight_decay: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.98, lamb: 2.0)))
{
    float loss = float.NaN;
    for (int step = 0; step < 200; step++)
    {
        using var scope = torch.NewDisposeScope();
        Tensor batchLoss = functional.mse_loss(model.forward(inputs), targets);
        batchLoss.backward();
        optimizer.step();
        optimizer.zero_grad();
        loss = batchLoss.item<float>();
    }
    Console.WriteLine($"fused GrokfastAdamW: loss after {optimizer.StepCount} steps: {loss:F4}");
}
// README:end
Directory.Delete(folder, recursive: true);
