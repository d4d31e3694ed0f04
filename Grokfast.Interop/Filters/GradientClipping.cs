using Grokfast.Bridge;
using Grokfast.Kernels.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Filters;

/// <summary>
/// A fused optimizer's gradient clipping: the limit, the 2-norm the last clipped step measured (a float64 scalar tensor
/// on the parameters' device, written by the host, or on CUDA by the device) and, on the host, the factor the step's
/// Adam passes apply. The norm is summed in <see cref="GradientNorm"/>'s fixed order on every backend.
/// </summary>
internal sealed unsafe class GradientClipping : IDisposable
{
    private readonly double[] blockSums;
    private readonly nint normAddress;
    private int blocks;

    /// <summary>Room for the block sums of <paramref name="elements"/> gradients in at most <paramref name="runs"/> runs; the norm on <paramref name="device"/>.</summary>
    public GradientClipping(long elements, int runs, Device device)
    {
        blockSums = new double[elements / GradientNorm.BlockLength + runs];
        Norm = torch.zeros([], ScalarType.Float64, device);
        normAddress = TensorAddress.OfFloat64(Norm);
    }

    /// <summary>The largest 2-norm the gradients may have, or null for no clipping.</summary>
    public double? MaxNorm { get; set; }

    /// <summary>The norm the last clipped step measured, before clipping (0 before the first).</summary>
    public Tensor Norm { get; }

    /// <summary>The device address of <see cref="Norm"/>'s value.</summary>
    public nint NormAddress => normAddress;

    /// <summary>What the host's Adam passes multiply the raw gradients by this step: 1 unless clipped.</summary>
    public float Scale { get; private set; } = 1;

    /// <summary>Starts a host step: no blocks summed, no scale.</summary>
    public void BeginHost()
    {
        blocks = 0;
        Scale = 1;
    }

    /// <summary>Sums the blocks of the step's next run, <paramref name="length"/> gradients of <paramref name="format"/> at <paramref name="data"/>.</summary>
    public void AddRun(GradientFormat format, nint data, long length)
    {
        fixed (double* sums = blockSums) format.BlockSums(data, length, sums + blocks);
        blocks += (int)GradientNorm.Blocks(length);
    }

    /// <summary>The sum of squares of the runs added since <see cref="BeginHost"/>, in <see cref="GradientNorm"/>'s order.</summary>
    public double LocalTotal() => GradientNorm.Total(blockSums.AsSpan(0, blocks));

    /// <summary>Ends a host step from the sum of squares <paramref name="total"/>: the norm written, the scale set for <paramref name="maxNorm"/>; false when a gradient was NaN or ±Inf.</summary>
    public bool Finish(double maxNorm, double total)
    {
        double norm = Math.Sqrt(total);
        *(double*)normAddress = norm;
        Scale = GradientNorm.ClipScale(maxNorm, norm);
        return double.IsFinite(total);
    }

    /// <summary>Takes <paramref name="before"/>'s limit and last norm (a parameter group was appended).</summary>
    public void ContinueFrom(GradientClipping before)
    {
        MaxNorm = before.MaxNorm;
        using (torch.no_grad()) Norm.copy_(before.Norm);
    }

    /// <summary>Frees the norm. Never throws.</summary>
    public void Dispose() => Norm.Dispose();
}
