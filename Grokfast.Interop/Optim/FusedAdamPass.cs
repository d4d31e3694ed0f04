using Grokfast.Kernels.Adam;

namespace Grokfast.Optim;

/// <summary>
/// What a filter needs to run Adam's step inside its own pass: the fused kernel, bound to the gradients, parameters
/// and moments, and the hyperparameters of the step about to run (the learning rate can change between steps).
/// </summary>
internal sealed class FusedAdamPass(FusedAdamCpuKernel kernel, AdamSettings settings)
{
    /// <summary>The fused kernel; the filter names its own state per run.</summary>
    public FusedAdamCpuKernel Kernel { get; } = kernel;

    /// <summary>Adam's hyperparameters for the next step.</summary>
    public AdamSettings Settings { get; set; } = settings;

    /// <summary>The constants of Adam's step number <paramref name="step"/> (1 for a parameter's first update).</summary>
    public AdamConstants At(long step) => Settings.At(step);
}
