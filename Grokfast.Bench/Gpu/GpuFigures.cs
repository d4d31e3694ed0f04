namespace Grokfast.Bench.Gpu;

/// <summary>One filter's result on the GPU: agreement with its CPU twin, then its speed against a device copy of the same bytes.</summary>
/// <param name="Steps">Steps compared with the CPU twin.</param>
/// <param name="Mismatches">Gradient elements, over all steps, where the CUDA kernel's value differs from the twin's at all.</param>
/// <param name="FusedMs">GPU time of one fused step (CUDA events, mean of the timed launches).</param>
/// <param name="FusedGBps">The step's bytes per element × elements / time.</param>
/// <param name="CopyMs">GPU time of a device-to-device copy moving the same bytes (reads plus writes).</param>
/// <param name="CopyGBps">Its bandwidth, counted the same way.</param>
internal sealed record GpuFigures(int Steps, long Mismatches, double FusedMs, double FusedGBps, double CopyMs, double CopyGBps)
{
    /// <summary>Fused bandwidth as a fraction of the copy's: the target is ≥ 0.85.</summary>
    public double BandwidthRatio => FusedGBps / CopyGBps;
}
