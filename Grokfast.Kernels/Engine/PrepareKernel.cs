using ILGPU;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// The CUDA path's step on the device, one thread before the pass: unless <c>skip[0]</c> is set, the constants of the
/// run's next step — the filter's from its steps filtered and covariance, Adam's from its steps updated — into
/// <c>step[0]</c>, and one more step counted (and the covariance advanced) for each of its parameters. A count the pass
/// does not advance (the filter's when it is off, Adam's for a filter on its own) comes as an empty view, as does the
/// gradient scale of a step without clipping (1 then). The constants
/// never reach the host, so the host never waits for the scan that decides whether the step runs.
/// </summary>
internal static class PrepareKernel<TSettings, TFilter>
    where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
    where TFilter : unmanaged, IFilterStep<TFilter>
{
    /// <summary>Thread <paramref name="thread"/> of a one-thread launch.</summary>
    internal static void Kernel(Index1D thread, ArrayView<int> skip, ArrayView<long> steps, ArrayView<float> covariances,
        ArrayView<long> updates, ArrayView<float> scale, ArrayView<PassConstants<TFilter>> step, PassSettings<TSettings> settings)
    {
        if (thread.X != 0 || skip[0] != 0) return;
        long before = steps.Length > 0 ? steps[0] : 0;
        float covariance = covariances.Length > 0 ? covariances[0] : 0;
        long updatesBefore = updates.Length > 0 ? updates[0] : 0;
        step[0] = new PassConstants<TFilter>(TSettings.At(settings.Filter, before, covariance), settings.Adam.At(updatesBefore + 1, scale.Length > 0 ? scale[0] : 1));
        float next = TSettings.NextCovariance(settings.Filter, covariance);
        for (long p = 0; p < steps.Length; p++)
        {
            steps[p] = before + 1;
            covariances[p] = next;
        }
        for (long p = 0; p < updates.Length; p++) updates[p] = updatesBefore + 1;
    }
}
