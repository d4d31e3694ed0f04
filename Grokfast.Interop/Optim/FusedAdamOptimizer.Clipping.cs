using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Optim;

public abstract partial class FusedAdamOptimizer
{
    /// <summary>
    /// Fused gradient clipping: the largest 2-norm the gradients of all groups together may have, or null (the default)
    /// for none. Each step measures the norm in the read the non-finite guard makes anyway and, where it exceeds the
    /// limit, multiplies the raw gradients by max_grad_norm / (norm + 1e-6) inside the pass, before the filter — as
    /// <c>torch.nn.utils.clip_grad_norm_</c> then the step would, without writing the gradients. <c>p.grad</c> keeps the
    /// raw gradient. Settable between steps; the norm is summed in a fixed order, the same on every backend (kernels.md).
    /// </summary>
    public double? max_grad_norm
    {
        get => core.Steps.Clipping!.MaxNorm;
        set
        {
            if (value is double limit && !(limit > 0 && double.IsFinite(limit)))
                throw new ArgumentOutOfRangeException(nameof(max_grad_norm), limit, $"Invalid max_grad_norm: {limit}; max_grad_norm must be finite and > 0, or null for no clipping.");
            core.Steps.Clipping!.MaxNorm = value;
        }
    }

    /// <summary>
    /// The 2-norm of the gradients the last clipped step measured, before clipping (0 before the first), as
    /// <c>clip_grad_norm_</c> returns it: a new float64 scalar on the parameters' device, yours to dispose. On CUDA the
    /// step never waits for it; reading its value waits for the step. NaN or +Inf when a gradient was.
    /// </summary>
    public Tensor grad_norm()
    {
        ThrowIfDisposed();
        using (torch.no_grad()) return core.Steps.Clipping!.Norm.clone().DetachFromDisposeScope();
    }
}
