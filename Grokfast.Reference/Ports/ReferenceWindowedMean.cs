using Grokfast.Filters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Reference.Ports;

/// <summary>
/// The published <c>gradfilter_ma</c> translated literally into TorchSharp tensor ops, per parameter: a queue
/// of the last <c>window_size</c> gradients, re-summed in full every step (O(window)), allocating new tensors
/// every step as the Python does. The second reference
/// for tests and the baseline for benchmarks; not a fast path.
/// </summary>
internal sealed class ReferenceWindowedMean : IDisposable
{
    private readonly Module module;
    private readonly int windowSize;
    private readonly double lamb;
    private readonly WindowAggregation filterType;
    private readonly bool warmup;
    private readonly bool trigger;
    private readonly Dictionary<string, Queue<Tensor>> windows = [];

    /// <summary>The filter for <paramref name="module"/> with the reference's hyperparameters.</summary>
    public ReferenceWindowedMean(Module module, int windowSize = 128, double lamb = 5.0, WindowAggregation filterType = WindowAggregation.Mean,
        bool warmup = true, bool trigger = false)
    {
        ArgumentNullException.ThrowIfNull(module);
        this.module = module;
        this.windowSize = windowSize;
        this.lamb = lamb;
        this.filterType = filterType;
        this.warmup = warmup;
        this.trigger = trigger;
    }

    /// <summary>One step: append each gradient to its window, then add lamb times the window's mean or sum.</summary>
    public void step()
    {
        using var noGrad = torch.no_grad();
        foreach ((string name, Parameter parameter) in module.named_parameters())
        {
            if (!parameter.requires_grad) continue;
            // Every temporary of this parameter's step — the grad handle, detach(), the partial sums — is
            // freed here rather than by the finalizer, which would hold their storage for many steps.
            using var scope = torch.NewDisposeScope();
            Tensor grad = parameter.grad ?? throw new InvalidOperationException("The reference needs every parameter to have a gradient.");
            if (!windows.TryGetValue(name, out Queue<Tensor>? window)) windows[name] = window = new Queue<Tensor>();
            window.Enqueue(grad.detach().clone().DetachFromDisposeScope());
            if (window.Count > windowSize) window.Dequeue().Dispose();
            if (!warmup || (window.Count == windowSize && !trigger))
            {
                // Python's sum() adds the window in order into a new tensor per addition; we add in the same
                // order into one new tensor per step: the same numbers and the same O(window) traffic, without
                // window_size allocations per parameter per step, whose churn grows glibc's heap without bound.
                Tensor sum = window.Skip(1).Aggregate(window.Peek().clone(), (total, g) => total.add_(g));
                Tensor average = filterType == WindowAggregation.Mean ? sum / window.Count : sum;
                parameter.grad = grad + average * lamb;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (Tensor g in windows.Values.SelectMany(w => w)) g.Dispose();
        windows.Clear();
    }
}
