namespace Grokfast.Bench.Throughput;

/// <summary>One filter's timings from one run, and the ratios that matter: fused against naive ops and against a copy.</summary>
/// <param name="FusedMs">Median fused step, with the non-finite guard (the default).</param>
/// <param name="FusedUnguardedMs">Median fused step with the guard switched off.</param>
/// <param name="LiteralMs">Median step of the reference translated literally into tensor ops.</param>
/// <param name="InPlaceMs">Median step of the best in-place tensor ops.</param>
/// <param name="CopyMs">Median plain copy of the bytes the fused step moves.</param>
/// <param name="ReadModifyWriteMs">Median in-place read-modify-write pass over the same bytes.</param>
/// <param name="BytesPerElement">Bytes the fused step reads and writes per gradient element, the guard's read included.</param>
/// <param name="UnguardedBytesPerElement">Bytes the pass alone moves per gradient element.</param>
/// <param name="Elements">Gradient elements.</param>
internal sealed record FilterThroughput(double FusedMs, double FusedUnguardedMs, double LiteralMs, double InPlaceMs, double CopyMs, double ReadModifyWriteMs,
    int BytesPerElement, int UnguardedBytesPerElement, long Elements)
{
    public double FusedGBps => GBps(FusedMs);

    /// <summary>What the non-finite guard adds to a fused step, as a fraction of the unguarded step.</summary>
    public double GuardCost => FusedMs / FusedUnguardedMs - 1;

    public double CopyGBps => GBps(CopyMs);

    public double SpeedupVsLiteral => LiteralMs / FusedMs;

    public double SpeedupVsInPlace => InPlaceMs / FusedMs;

    public double BandwidthRatio => FusedGBps / CopyGBps;

    public double ReadModifyWriteGBps => GBps(ReadModifyWriteMs);

    /// <summary>Fused bandwidth over an in-place pass's: the fairer ceiling for a filter that writes where it reads.</summary>
    public double ReadModifyWriteRatio => FusedGBps / ReadModifyWriteGBps;

    /// <summary>The same ratio for the pass alone (the guard off), counting the pass's own bytes.</summary>
    public double UnguardedReadModifyWriteRatio => GBps(FusedUnguardedMs, UnguardedBytesPerElement) / ReadModifyWriteGBps;

    private double GBps(double milliseconds, int? bytesPerElement = null) => (double)(bytesPerElement ?? BytesPerElement) * Elements / (milliseconds * 1e6);
}
