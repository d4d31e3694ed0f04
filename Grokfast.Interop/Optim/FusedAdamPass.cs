using Grokfast.Kernels.Adam;
using Grokfast.Filters;

namespace Grokfast.Optim;

/// <summary>
/// What a filter needs to run Adam's step inside its own pass: where the parameters and both moments lie (flat, in the
/// gradients' layout) and each parameter group's hyperparameters for the step about to run (a scheduler can change
/// them between steps). The pass reads them once per run, never per element.
/// </summary>
/// <param name="Buffers">Per gradient group, where its parameters, master weights and part of the moments lie.</param>
/// <param name="Settings">Per parameter group, Adam's hyperparameters for the next step.</param>
/// <param name="Clipping">The clipping whose scale the host's passes apply to the raw gradients.</param>
internal sealed record FusedAdamPass(IReadOnlyList<FusedAdamBuffers> Buffers, AdamSettings[] Settings, GradientClipping Clipping)
{
    /// <summary>The constants of Adam's step number <paramref name="step"/> (1 for a parameter's first update) in parameter group <paramref name="paramGroup"/>.</summary>
    public AdamConstants At(int paramGroup, long step) => Settings[paramGroup].At(step, Clipping.Scale);
}
