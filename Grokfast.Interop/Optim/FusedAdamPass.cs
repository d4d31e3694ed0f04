using Grokfast.Kernels.Adam;

namespace Grokfast.Optim;

/// <summary>
/// What a filter needs to run Adam's step inside its own pass: where the parameters and both moments lie (flat, in the
/// gradients' layout), the CPU kernels when the pass runs on the host, and the hyperparameters of the step about to run
/// (the learning rate can change between steps).
/// </summary>
/// <param name="Buffers">Per gradient group, where its parameters, master weights and part of the moments lie.</param>
/// <param name="Kernels">
/// The fused CPU kernels, one per gradient group, each bound to the group's gradients, parameters (or master weights) and
/// its part of the moments; null on CUDA, where each filter binds its own launchers to <paramref name="Buffers"/>.
/// </param>
internal sealed record FusedAdamPass(IReadOnlyList<FusedAdamBuffers> Buffers, IReadOnlyList<IFusedAdamCpuKernel>? Kernels)
{
    /// <summary>Adam's hyperparameters for the next step.</summary>
    public AdamSettings Settings { get; set; }

    /// <summary>The constants of Adam's step number <paramref name="step"/> (1 for a parameter's first update).</summary>
    public AdamConstants At(long step) => Settings.At(step);
}
