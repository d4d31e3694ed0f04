using System.Globalization;

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

    /// <summary>The header of <see cref="Row"/>'s columns.</summary>
    public const string Header = "steps  mismatches  fused ms  fused GB/s  copy ms  copy GB/s  fused/copy";

    /// <summary>The figures as the JSON reports spell them.</summary>
    public object Json => new
    {
        steps = Steps,
        mismatches = Mismatches,
        fused_ms = FusedMs,
        fused_gbps = FusedGBps,
        copy_ms = CopyMs,
        copy_gbps = CopyGBps,
        bandwidth_ratio = BandwidthRatio,
    };

    /// <summary>The figures as one line of a text table under <see cref="Header"/>.</summary>
    public string Row => string.Create(CultureInfo.InvariantCulture,
        $"{Steps,5}  {Mismatches,10}  {FusedMs,8:F4}  {FusedGBps,10:F0}  {CopyMs,7:F4}  {CopyGBps,9:F0}  {BandwidthRatio,9:P0}");
}
