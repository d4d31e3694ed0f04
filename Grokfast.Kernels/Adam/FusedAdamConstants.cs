namespace Grokfast.Kernels.Adam;

/// <summary>A fused step's constants: the filter's and Adam's for the same step, in one slot, so one view carries both to the pass.</summary>
/// <typeparam name="TFilter">The filter's constants (EmaConstants, KalmanConstants, WindowedMeanConstants).</typeparam>
/// <param name="Filter">The filter's constants of the step.</param>
/// <param name="Adam">Adam's constants of the step.</param>
internal readonly record struct FusedAdamConstants<TFilter>(TFilter Filter, AdamConstants Adam)
    where TFilter : unmanaged;
