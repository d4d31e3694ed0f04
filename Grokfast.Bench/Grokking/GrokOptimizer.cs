namespace Grokfast.Bench.Grokking;

/// <summary>How a grokking run takes its optimizer step: the <c>--optimizer</c> option.</summary>
internal enum GrokOptimizer
{
    /// <summary>The library's fused optimizer: the filter and Adam in one pass (<c>GrokfastAdam</c>).</summary>
    Fused,

    /// <summary>The filter's own <c>step()</c>, then TorchSharp's <c>torch.optim.Adam</c>: two separate stages.</summary>
    Torch,
}
