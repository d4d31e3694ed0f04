namespace Grokfast.Bench.Throughput;

/// <summary>One optimizer step's timings from one run: fused against the separate path and against a read-modify-write pass.</summary>
/// <param name="FusedMs">Median fused step (the filter, if any, and Adam in one pass).</param>
/// <param name="SeparateMs">Median separate step: the filter's <c>step()</c>, then TorchSharp's <c>Adam.step()</c>.</param>
/// <param name="ReadModifyWriteMs">Median in-place read-modify-write pass over the fused step's bytes.</param>
/// <param name="BytesPerElement">Bytes the fused step reads and writes per parameter element.</param>
/// <param name="Elements">Parameter elements.</param>
internal sealed record OptimizerThroughput(double FusedMs, double SeparateMs, double ReadModifyWriteMs, int BytesPerElement, long Elements)
{
    public double SpeedupVsSeparate => SeparateMs / FusedMs;

    public double FusedGBps => GBps(FusedMs);

    public double ReadModifyWriteGBps => GBps(ReadModifyWriteMs);

    /// <summary>Fused bandwidth over the read-modify-write pass's at the same bytes.</summary>
    public double ReadModifyWriteRatio => FusedGBps / ReadModifyWriteGBps;

    private double GBps(double milliseconds) => (double)BytesPerElement * Elements / (milliseconds * 1e6);
}
