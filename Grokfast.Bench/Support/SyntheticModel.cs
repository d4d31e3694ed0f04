using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Support;

/// <summary>A module that is only parameters of given sizes, with fixed-seed gradients, for timing filters.</summary>
internal sealed class SyntheticModel : Module
{
    private readonly ParameterList parameterList = new();

    /// <summary>
    /// Parameters of <paramref name="elements"/> in all, split evenly over <paramref name="tensors"/>, of <paramref name="dtype"/>
    /// (float32 by default), with fixed-seed normal gradients (or zeros).
    /// </summary>
    public SyntheticModel(long elements, int tensors, bool zeroGradients = false, ScalarType dtype = ScalarType.Float32) : base(nameof(SyntheticModel))
    {
        var generator = new torch.Generator(0);
        long remaining = elements;
        for (int i = 0; i < tensors; i++)
        {
            long size = remaining / (tensors - i);
            remaining -= size;
            var parameter = new Parameter(torch.zeros(size, dtype));
            if (zeroGradients) parameter.grad = torch.zeros(size, dtype);
            else
            {
                using Tensor gradient = torch.randn(size, generator: generator);
                parameter.grad = gradient.to(dtype);
            }
            parameterList.Add(parameter);
        }
        RegisterComponents();
    }

    /// <summary>Parameters of the given <paramref name="shapes"/> on <paramref name="device"/>, fixed-seed normal values and gradients.</summary>
    public SyntheticModel(IEnumerable<long[]> shapes, Device device) : base(nameof(SyntheticModel))
    {
        var generator = new torch.Generator(0);
        foreach (long[] shape in shapes)
        {
            using Tensor values = torch.randn(shape, generator: generator).mul_(0.02);
            var parameter = new Parameter(values.to(device));
            using Tensor gradient = torch.randn(shape, generator: generator);
            parameter.grad = gradient.to(device);
            parameterList.Add(parameter);
        }
        RegisterComponents();
    }

    /// <summary>
    /// GPT-2 small's 148 parameter tensors (124,439,808 elements, the output layer tied to the token embedding): the
    /// issue's GPU benchmark set.
    /// </summary>
    public static IReadOnlyList<long[]> Gpt2SmallShapes { get; } =
    [
        [50257, 768], [1024, 768],
        .. Enumerable.Range(0, 12).SelectMany(_ => new long[][]
        {
            [768], [768], [768, 2304], [2304], [768, 768], [768], [768], [768], [768, 3072], [3072], [3072, 768], [768],
        }),
        [768], [768],
    ];

    /// <summary>Copies of the current gradients, to restore between timed steps.</summary>
    public Tensor[] SnapshotGradients() => parameters().Select(p => p.grad!.clone()).ToArray();

    /// <summary>
    /// The untimed preparation of a timed step: the cache evicted, then <paramref name="snapshot"/> written back, so every
    /// operation starts from the same gradients and the same cache state.
    /// </summary>
    public Action Restoring(Tensor[] snapshot, CacheEviction cache) => () =>
    {
        cache.Evict();
        RestoreGradients(snapshot);
    };

    /// <summary>Writes the snapshot back into the gradients in place (their storage stays where it is).</summary>
    public void RestoreGradients(Tensor[] snapshot)
    {
        using var noGrad = torch.no_grad();
        int i = 0;
        foreach (Parameter p in parameters())
        {
            using Tensor grad = p.grad!;
            grad.copy_(snapshot[i++]);
        }
    }
}
