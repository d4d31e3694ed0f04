using Grokfast.Bench.Support;
using Grokfast.Filters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Replay;

/// <summary>
/// Runs a recorded gradient trace — row t is the gradient of one parameter at step t — through a fused
/// filter, as a training loop would, and returns the filtered rows. A float16 trace is filtered as a float16
/// parameter's gradients are (float32 state, each filtered gradient rounded back to float16). A step whose row holds
/// a NaN or ±Inf is skipped by the filter's guard (its row comes back as it went in, the state untouched) unless
/// <c>skipNonFinite</c> is off; the skipped steps are returned.
/// </summary>
internal static class TraceReplay
{
    public static (float[] Filtered, IReadOnlyList<int> SkippedSteps) Run(ReadOnlySpan<float> trace, int steps, int width, FilterChoice options,
        ScalarType dtype = ScalarType.Float32, bool skipNonFinite = true)
    {
        using var module = new SingleParameter(width, dtype);
        using GradientFilter filter = options.Create(module);
        filter.SkipNonFinite = skipNonFinite;
        var filtered = new float[trace.Length];
        var skipped = new List<int>();
        for (int step = 0; step < steps; step++)
        {
            module.SetGradient(trace.Slice(step * width, width));
            filter.step();
            if (filter.LastStepSkipped) skipped.Add(step);
            module.CopyGradient(filtered.AsSpan(step * width, width));
        }
        return (filtered, skipped);
    }

    /// <summary>One parameter of N elements whose gradient is written from the trace in place, every step.</summary>
    private sealed class SingleParameter : Module
    {
        private readonly Parameter weight;
        private readonly Tensor row;

        public SingleParameter(int width, ScalarType dtype) : base(nameof(SingleParameter))
        {
            weight = new Parameter(torch.zeros(width, dtype));
            weight.grad = torch.zeros(width, dtype);
            row = torch.zeros(width);
            RegisterComponents();
        }

        /// <summary>Writes a row (values of the parameter's dtype, widened) into the gradient: copy_ rounds them back exactly.</summary>
        public void SetGradient(ReadOnlySpan<float> values)
        {
            using (var accessor = row.data<float>()) accessor.CopyFrom(values);
            using Tensor grad = weight.grad!;
            using (torch.no_grad()) grad.copy_(row);
        }

        /// <summary>Reads the gradient back, widened to float32 (exactly).</summary>
        public void CopyGradient(Span<float> values)
        {
            using Tensor grad = weight.grad!;
            using (torch.no_grad()) row.copy_(grad);
            using var accessor = row.data<float>();
            accessor.CopyTo(values);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) row.Dispose();
            base.Dispose(disposing);
        }
    }
}
