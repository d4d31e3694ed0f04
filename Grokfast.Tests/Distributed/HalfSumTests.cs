using Grokfast.Kernels.Distributed;
using Grokfast.Kernels.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Distributed;

/// <summary>
/// The sum MPI applies to 16-bit gradients: each pair added as libtorch adds two bfloat16 or float16 tensors (in float32,
/// rounded once), on the vector lanes and on the tail alike.
/// </summary>
public sealed unsafe class HalfSumTests
{
    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Add_OfRandomValues_IsLibTorchsSum_BitForBit(ScalarType format)
    {
        // Long enough for the vector loop and a tail; magnitudes spread so that many sums round.
        const int Count = 1003;
        var generator = new torch.Generator(7);
        using Tensor a = (torch.randn(Count, generator: generator) * torch.exp2(torch.randint(-6, 6, Count, generator: generator))).to(format);
        using Tensor b = (torch.randn(Count, generator: generator) * torch.exp2(torch.randint(-6, 6, Count, generator: generator))).to(format);
        using Tensor sum = a + b;
        ushort[] incoming = Bits(a), accumulated = Bits(b), expected = Bits(sum);

        fixed (ushort* x = incoming, y = accumulated)
        {
            if (format == ScalarType.BFloat16) HalfSum.Add<BFloat16Format>(x, y, Count);
            else HalfSum.Add<Float16Format>(x, y, Count);
        }

        Assert.Equal(expected, accumulated);
    }

    private static ushort[] Bits(Tensor tensor) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(tensor.bytes).ToArray();
}
