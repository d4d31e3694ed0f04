using Grokfast.Bench.Support;
using Grokfast.Filters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Replay;

/// <summary>
/// Runs a recorded gradient trace — row t is the gradient of one parameter at step t — through a fused
/// filter, as a training loop would, and returns the filtered rows.
/// </summary>
internal static class TraceReplay
{
    public static float[] Run(ReadOnlySpan<float> trace, int steps, int width, FilterChoice options)
    {
        using var module = new SingleParameter(width);
        using GradientFilter filter = options.Create(module);
        var filtered = new float[trace.Length];
        for (int step = 0; step < steps; step++)
        {
            module.SetGradient(trace.Slice(step * width, width));
            filter.step();
            module.CopyGradient(filtered.AsSpan(step * width, width));
        }
        return filtered;
    }

    /// <summary>One parameter of N elements whose gradient is written from the trace in place, every step.</summary>
    private sealed class SingleParameter : Module
    {
        private readonly Parameter weight;

        public SingleParameter(int width) : base(nameof(SingleParameter))
        {
            weight = new Parameter(torch.zeros(width));
            weight.grad = torch.zeros(width);
            RegisterComponents();
        }

        public void SetGradient(ReadOnlySpan<float> row)
        {
            using Tensor grad = weight.grad!;
            using var accessor = grad.data<float>();
            accessor.CopyFrom(row);
        }

        public void CopyGradient(Span<float> row)
        {
            using Tensor grad = weight.grad!;
            using var accessor = grad.data<float>();
            accessor.CopyTo(row);
        }
    }
}
