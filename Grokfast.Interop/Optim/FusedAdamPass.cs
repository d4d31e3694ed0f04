using Grokfast.Kernels.Adam;

namespace Grokfast.Optim;

/// <summary>
/// What a filter needs to run Adam's step inside its own pass: where the parameters and both moments lie (flat, in the
/// gradients' layout), the CPU kernels when the pass runs on the host, and the hyperparameters of the step about to run
/// (the learning rate can change between steps).
/// </summary>
/// <param name="Parameters">Address of the flat parameter buffer (on CUDA, where the model is float32: one group).</param>
/// <param name="FirstMoments">Address of exp_avg.</param>
/// <param name="SecondMoments">Address of exp_avg_sq.</param>
/// <param name="Kernels">
/// The fused CPU kernels, one per gradient group, each bound to the group's gradients, parameters (or master weights) and
/// its part of the moments; null on CUDA, where each filter binds its own launcher.
/// </param>
internal sealed record FusedAdamPass(nint Parameters, nint FirstMoments, nint SecondMoments, IReadOnlyList<IFusedAdamCpuKernel>? Kernels)
{
    /// <summary>Adam's hyperparameters for the next step.</summary>
    public AdamSettings Settings { get; set; }

    /// <summary>The constants of Adam's step number <paramref name="step"/> (1 for a parameter's first update).</summary>
    public AdamConstants At(long step) => Settings.At(step);
}
