using Grokfast.Kernels.Adam;

namespace Grokfast.Optim;

/// <summary>
/// What a filter needs to run Adam's step inside its own pass: where the parameters and both moments lie (flat, in the
/// gradients' layout), the CPU kernel when the pass runs on the host, and the hyperparameters of the step about to run
/// (the learning rate can change between steps).
/// </summary>
/// <param name="Parameters">Address of the flat parameter buffer.</param>
/// <param name="FirstMoments">Address of exp_avg.</param>
/// <param name="SecondMoments">Address of exp_avg_sq.</param>
/// <param name="Kernel">The fused CPU kernel, bound to the gradients, parameters and moments; null on CUDA, where each filter binds its own launcher.</param>
internal sealed record FusedAdamPass(nint Parameters, nint FirstMoments, nint SecondMoments, FusedAdamCpuKernel? Kernel)
{
    /// <summary>Adam's hyperparameters for the next step.</summary>
    public AdamSettings Settings { get; set; }

    /// <summary>The constants of Adam's step number <paramref name="step"/> (1 for a parameter's first update).</summary>
    public AdamConstants At(long step) => Settings.At(step);
}
