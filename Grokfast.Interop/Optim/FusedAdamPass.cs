using Grokfast.Kernels.Adam;

namespace Grokfast.Optim;

/// <summary>
/// What a filter needs to run Adam's step inside its own pass: where the parameters and both moments lie (flat, in the
/// gradients' layout) and the hyperparameters of the step about to run (the learning rate can change between steps).
/// </summary>
/// <param name="Buffers">Per gradient group, where its parameters, master weights and part of the moments lie.</param>
internal sealed record FusedAdamPass(IReadOnlyList<FusedAdamBuffers> Buffers)
{
    /// <summary>Adam's hyperparameters for the next step.</summary>
    public AdamSettings Settings { get; set; }

    /// <summary>The constants of Adam's step number <paramref name="step"/> (1 for a parameter's first update).</summary>
    public AdamConstants At(long step) => Settings.At(step);
}
