using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Reference.Ports;

/// <summary>
/// The Kalman filter of the Grokfast pull request #8 as plain TorchSharp tensor ops, per parameter, with
/// elementwise x and P tensors as the pull request keeps them. The second reference for tests and the
/// baseline for benchmarks; not a fast path. Parameters without a gradient are skipped, as in the pull request.
/// </summary>
internal sealed class ReferenceKalman : IDisposable
{
    private readonly Module module;
    private readonly double processNoise;
    private readonly double measurementNoise;
    private readonly double lamb;
    private readonly Dictionary<string, (Tensor X, Tensor P)> state = [];

    /// <summary>The filter for <paramref name="module"/> with the pull request's hyperparameters.</summary>
    public ReferenceKalman(Module module, double processNoise = 1e-4, double measurementNoise = 1e-2, double lamb = 2.0)
    {
        ArgumentNullException.ThrowIfNull(module);
        this.module = module;
        this.processNoise = processNoise;
        this.measurementNoise = measurementNoise;
        this.lamb = lamb;
    }

    /// <summary>One predict-and-update step per parameter, then <c>g += lamb * x</c>.</summary>
    public void step()
    {
        using var noGrad = torch.no_grad();
        foreach ((string name, Parameter parameter) in module.named_parameters())
        {
            if (!parameter.requires_grad) continue;
            using Tensor? grad = parameter.grad;
            if (grad is null) continue;
            if (!state.TryGetValue(name, out (Tensor X, Tensor P) s))
                s = (torch.zeros_like(grad).DetachFromDisposeScope(), torch.full_like(grad, measurementNoise).DetachFromDisposeScope());
            using var scope = torch.NewDisposeScope();
            Tensor predicted = s.P + processNoise;
            Tensor gain = predicted / (predicted + measurementNoise);
            Tensor x = (s.X + gain * (grad - s.X)).DetachFromDisposeScope();
            Tensor p = ((1 - gain) * predicted).DetachFromDisposeScope();
            s.X.Dispose();
            s.P.Dispose();
            state[name] = (x, p);
            parameter.grad = grad + x * lamb;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach ((Tensor x, Tensor p) in state.Values)
        {
            x.Dispose();
            p.Dispose();
        }
        state.Clear();
    }
}
