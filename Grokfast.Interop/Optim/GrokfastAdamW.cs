using Grokfast.Kernels.Backends;
using static TorchSharp.torch.nn;

namespace Grokfast.Optim;

/// <summary>
/// AdamW (<c>torch.optim.AdamW</c>: decoupled weight decay, the parameter shrunk by <c>lr·weight_decay</c> before the update) with an optional
/// Grokfast filter, in one fused pass per step (see <see cref="FusedAdamOptimizer"/>).
/// </summary>
/// <example>
/// <code>
/// using var optimizer = new GrokfastAdamW(model, lr: 1e-3, beta1: 0.9, weight_decay: 1.0, grokfast: GrokfastFilter.Ema(alpha: 0.98, lamb: 2.0));
/// loss.backward(); optimizer.step(); optimizer.zero_grad();
/// </code>
/// </example>
public sealed class GrokfastAdamW : FusedAdamOptimizer
{
    /// <summary>Builds the optimizer for the trainable parameters of <paramref name="module"/>; defaults are <c>torch.optim.AdamW</c>'s.</summary>
    /// <param name="module">The model whose trainable parameters are updated; they become views of one flat buffer.</param>
    /// <param name="lr">Learning rate, finite and ≥ 0.</param>
    /// <param name="beta1">Decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay of the second moment, in [0, 1).</param>
    /// <param name="eps">Added to the denominator, finite and ≥ 0.</param>
    /// <param name="weight_decay">Decoupled decay, finite and ≥ 0.</param>
    /// <param name="grokfast">The Grokfast filter run inside the step, or null for none.</param>
    /// <param name="backend">Where the pass runs: <see cref="KernelBackend.Auto"/> follows the parameters' device (the CPU twin or CUDA); <see cref="KernelBackend.IlgpuCpu"/> is not supported.</param>
    /// <param name="skip_non_finite">Skip a step whose gradients hold a NaN or ±Inf, changing nothing.</param>
    /// <param name="master_weights">Keep float32 master weights for bfloat16 and float16 parameters (see <see cref="FusedAdamOptimizer.MasterWeights"/>).</param>
    public GrokfastAdamW(Module module, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 1e-2,
        GrokfastFilter? grokfast = null, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true,
        bool master_weights = true)
        : base(module, lr, beta1, beta2, eps, weight_decay, decoupled: true, grokfast, backend, skip_non_finite, master_weights)
    {
    }
}
