using Grokfast.Filters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Reference.Ports;

/// <summary>
/// The windowed mean as a careful TorchSharp user would write it: per parameter, a preallocated ring of
/// tensors and a running sum updated in place (<c>add_</c>, <c>sub_</c>, <c>copy_</c>), O(1) per step — four
/// kernels per parameter, about 44 bytes per element against the fused pass's 32. The running sum is
/// float32 here, as a user would keep it; the benchmark baseline, not a reference for numbers.
/// </summary>
internal sealed class InPlaceWindowedMean : IDisposable
{
    private readonly (Parameter Parameter, Tensor[] Ring, Tensor Sum)[] state;
    private readonly int windowSize;
    private readonly double lamb;
    private readonly WindowAggregation filterType;
    private long steps;

    /// <summary>The filter for the trainable parameters of <paramref name="module"/>, with warmup on and no trigger.</summary>
    public InPlaceWindowedMean(Module module, int windowSize = 128, double lamb = 5.0, WindowAggregation filterType = WindowAggregation.Mean)
    {
        ArgumentNullException.ThrowIfNull(module);
        this.windowSize = windowSize;
        this.lamb = lamb;
        this.filterType = filterType;
        state = module.parameters().Where(p => p.requires_grad)
            .Select(p => (p,
                Enumerable.Range(0, windowSize).Select(_ => torch.zeros_like(p).DetachFromDisposeScope()).ToArray(),
                torch.zeros_like(p).DetachFromDisposeScope()))
            .ToArray();
    }

    /// <summary>One step: the gradient replaces the oldest in the ring and the sum; once the window is full, <c>g += lamb * mean</c>.</summary>
    public void step()
    {
        using var noGrad = torch.no_grad();
        long slot = steps % windowSize;
        long held = Math.Min(steps + 1, windowSize);
        double scale = filterType == WindowAggregation.Mean ? 1.0 / held : 1.0;
        foreach ((Parameter parameter, Tensor[] ring, Tensor sum) in state)
        {
            using Tensor grad = parameter.grad ?? throw new InvalidOperationException("Every parameter needs a gradient.");
            sum.add_(grad).sub_(ring[slot]);
            ring[slot].copy_(grad);
            if (held == windowSize) grad.add_(sum, alpha: lamb * scale);
        }
        steps++;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach ((_, Tensor[] ring, Tensor sum) in state)
        {
            foreach (Tensor slot in ring) slot.Dispose();
            sum.Dispose();
        }
    }
}
