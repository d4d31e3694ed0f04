using Grokfast.Kernels.Adam;

namespace Grokfast.Kernels.Engine;

/// <summary>A step's constants: the filter's and Adam's (default when the pass writes the gradient back), in one slot, so one view carries both to a pass.</summary>
/// <typeparam name="TFilter">The filter's constants.</typeparam>
/// <param name="Filter">The filter's constants of the step.</param>
/// <param name="Adam">Adam's constants of the step.</param>
public readonly record struct PassConstants<TFilter>(TFilter Filter, AdamConstants Adam)
    where TFilter : unmanaged;

/// <summary>A step's hyperparameters, the filter's and Adam's (default when the pass writes the gradient back): what the CUDA prepare kernel derives the constants from.</summary>
/// <typeparam name="TSettings">The filter's settings.</typeparam>
/// <param name="Filter">The filter's hyperparameters.</param>
/// <param name="Adam">Adam's hyperparameters for this step (its learning rate can change between steps).</param>
public readonly record struct PassSettings<TSettings>(TSettings Filter, AdamSettings Adam)
    where TSettings : unmanaged;
