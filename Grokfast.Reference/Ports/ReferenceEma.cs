using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Reference.Ports;

/// <summary>
/// The published <c>gradfilter_ema</c> translated literally into TorchSharp tensor ops, per parameter,
/// allocating new tensors every step as the Python does. The second reference for tests and the
/// baseline for benchmarks; not a fast path.
/// </summary>
internal sealed class ReferenceEma : IDisposable
{
    private readonly Module module;
    private readonly double alpha;
    private readonly double lamb;
    private Dictionary<string, Tensor>? averages;

    /// <summary>The filter for <paramref name="module"/> with the reference's hyperparameters.</summary>
    public ReferenceEma(Module module, double alpha = 0.99, double lamb = 5.0)
    {
        ArgumentNullException.ThrowIfNull(module);
        this.module = module;
        this.alpha = alpha;
        this.lamb = lamb;
    }

    /// <summary>One step: updates each average and adds lamb times it to each gradient.</summary>
    public void step()
    {
        using var noGrad = torch.no_grad();
        averages ??= module.named_parameters()
            .Where(np => np.parameter.requires_grad)
            .ToDictionary(np => np.name, np => Grad(np.parameter).detach().clone().DetachFromDisposeScope());
        foreach ((string name, Parameter parameter) in module.named_parameters())
        {
            if (!parameter.requires_grad) continue;
            using var scope = torch.NewDisposeScope();
            Tensor grad = Grad(parameter);
            Tensor updated = (averages[name] * alpha + grad * (1 - alpha)).DetachFromDisposeScope();
            averages[name].Dispose();
            averages[name] = updated;
            parameter.grad = grad + updated * lamb;
        }
    }

    private static Tensor Grad(Parameter parameter) =>
        parameter.grad ?? throw new InvalidOperationException("The reference EMA needs every parameter to have a gradient.");

    /// <inheritdoc />
    public void Dispose()
    {
        if (averages is null) return;
        foreach (Tensor average in averages.Values) average.Dispose();
        averages = null;
    }
}
