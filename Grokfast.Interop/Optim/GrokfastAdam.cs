using Grokfast.Kernels.Backends;
using TorchSharp.Modules;
using static TorchSharp.torch.nn;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

/// <summary>
/// Adam (<c>torch.optim.Adam</c>: weight decay added to the gradient, as the Grokfast paper trains) with an optional
/// Grokfast filter, in one fused pass per step (see <see cref="FusedAdamOptimizer"/>).
/// </summary>
/// <example>
/// <code>
/// using var optimizer = new GrokfastAdam(model, lr: 1e-3, beta1: 0.9, beta2: 0.98, grokfast: GrokfastFilter.Ema(alpha: 0.98, lamb: 2.0));
/// loss.backward(); optimizer.step(); optimizer.zero_grad();
/// </code>
/// </example>
public sealed class GrokfastAdam : FusedAdamOptimizer
{
    /// <summary>Builds the optimizer for the trainable parameters of <paramref name="module"/>, one parameter group; defaults are <c>torch.optim.Adam</c>'s.</summary>
    /// <param name="module">The model whose trainable parameters are updated; they become views of one flat buffer per dtype.</param>
    /// <param name="lr">Learning rate, finite and ≥ 0 (each group's default).</param>
    /// <param name="beta1">Decay of the first moment, in [0, 1).</param>
    /// <param name="beta2">Decay of the second moment, in [0, 1).</param>
    /// <param name="eps">Added to the denominator, finite and ≥ 0.</param>
    /// <param name="weight_decay">L2 penalty added to the gradient (after the filter), finite and ≥ 0.</param>
    /// <param name="grokfast">The Grokfast filter run inside the step, or null for none.</param>
    /// <param name="backend">Where the pass runs: <see cref="KernelBackend.Auto"/> follows the parameters' device (the CPU twin or CUDA).</param>
    /// <param name="skip_non_finite">Skip a step whose gradients hold a NaN or ±Inf, changing nothing.</param>
    /// <param name="master_weights">Keep float32 master weights for bfloat16 and float16 parameters (see <see cref="FusedAdamOptimizer.MasterWeights"/>).</param>
    /// <param name="grokfast_after_step">Steps of Adam alone before the filter first runs (see <see cref="FusedAdamOptimizer.grokfast_after_step"/>).</param>
    /// <param name="normalize_lr">Divide each filtered group's learning rate by 1 + its lamb (see <see cref="FusedAdamOptimizer.normalize_lr"/>).</param>
    public GrokfastAdam(Module module, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0,
        GrokfastFilter? grokfast = null, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true,
        bool master_weights = true, long grokfast_after_step = 0, bool normalize_lr = false)
        : base(GroupSource.Of(module), lr, beta1, beta2, eps, weight_decay, decoupled: false, grokfast, backend, skip_non_finite, master_weights, grokfast_after_step, normalize_lr)
    {
    }

    /// <summary>
    /// Builds the optimizer for <c>parameters</c> (those that require grad), one parameter group; each is named in messages
    /// and checkpoints by its <c>name</c>, or else <c>param_groups[0][i]</c>.
    /// </summary>
    /// <inheritdoc cref="GrokfastAdam(Module, double, double, double, double, double, GrokfastFilter, KernelBackend, bool, bool, long, bool)"/>
    public GrokfastAdam(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0,
        GrokfastFilter? grokfast = null, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true,
        bool master_weights = true, long grokfast_after_step = 0, bool normalize_lr = false)
        : base(GroupSource.Of(parameters), lr, beta1, beta2, eps, weight_decay, decoupled: false, grokfast, backend, skip_non_finite, master_weights, grokfast_after_step, normalize_lr)
    {
    }

    /// <summary>
    /// Builds the optimizer for <c>param_groups</c>, each with its own options (null ones take these); the
    /// groups' parameters are laid out group by group: e.g. weight matrices with decay, biases, norms and embeddings without.
    /// </summary>
    /// <inheritdoc cref="GrokfastAdam(Module, double, double, double, double, double, GrokfastFilter, KernelBackend, bool, bool, long, bool)"/>
    public GrokfastAdam(IEnumerable<ParamGroup> param_groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0,
        GrokfastFilter? grokfast = null, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true,
        bool master_weights = true, long grokfast_after_step = 0, bool normalize_lr = false)
        : base(GroupSource.Of(param_groups), lr, beta1, beta2, eps, weight_decay, decoupled: false, grokfast, backend, skip_non_finite, master_weights, grokfast_after_step, normalize_lr)
    {
    }

    /// <summary>
    /// Builds the optimizer for TorchSharp's <c>Adam</c> parameter groups, with their options (amsgrad and maximize refused);
    /// the same groups <c>torch.optim.Adam</c> takes.
    /// </summary>
    /// <inheritdoc cref="GrokfastAdam(Module, double, double, double, double, double, GrokfastFilter, KernelBackend, bool, bool, long, bool)"/>
    public GrokfastAdam(IEnumerable<TorchSharp.Modules.Adam.ParamGroup> param_groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0,
        GrokfastFilter? grokfast = null, KernelBackend backend = KernelBackend.Auto, bool skip_non_finite = true,
        bool master_weights = true, long grokfast_after_step = 0, bool normalize_lr = false)
        : base(GroupSource.Of(param_groups),
            lr, beta1, beta2, eps, weight_decay, decoupled: false, grokfast, backend, skip_non_finite, master_weights, grokfast_after_step, normalize_lr)
    {
    }
}
