namespace Grokfast.Kernels.Adam;

/// <summary>A fused step's hyperparameters: the filter's and Adam's, passed together to the CUDA prepare kernel.</summary>
/// <typeparam name="TFilter">The filter's settings (EmaSettings, KalmanSettings, WindowedMeanSettings).</typeparam>
/// <param name="Filter">The filter's hyperparameters.</param>
/// <param name="Adam">Adam's hyperparameters for this step (its learning rate can change between steps).</param>
internal readonly record struct FusedAdamSettings<TFilter>(TFilter Filter, AdamSettings Adam)
    where TFilter : unmanaged;
