using Grokfast.Kernels.Backends;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

public sealed class FiniteScanTests
{
    [Theory]
    [InlineData(1, 0)]
    [InlineData(31, 30)]
    [InlineData((1 << 20) + 7, 0)]
    [InlineData((1 << 20) + 7, 1 << 19)]
    [InlineData((1 << 20) + 7, (1 << 20) + 6)]
    public void AllFinite_FindsNaNAndInfinitiesAnywhere(int length, int position)
    {
        using var data = new NativeFloats(length);
        Gradients.Random(length, seed: 1).CopyTo(data.Span);
        Assert.True(FiniteScan.AllFinite(data.Address, length));

        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            float saved = data.Span[position];
            data.Span[position] = bad;
            Assert.False(FiniteScan.AllFinite(data.Address, length), $"{bad} at {position} of {length} was not found");
            data.Span[position] = saved;
        }
    }

    [Fact]
    public void AllFinite_AcceptsExtremeFiniteValues()
    {
        using var data = new NativeFloats(40);
        data.Span.Fill(float.MaxValue);
        data.Span[3] = float.MinValue;
        data.Span[7] = float.Epsilon;

        Assert.True(FiniteScan.AllFinite(data.Address, 40));
    }
}
