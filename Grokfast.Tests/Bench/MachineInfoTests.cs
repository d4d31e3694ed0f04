using Grokfast.Bench.Support;

namespace Grokfast.Tests.Bench;

public sealed class MachineInfoTests
{
    [Theory]
    [InlineData("fpu sse2 avx fma avx2 f16c", new[] { "AVX2" })]
    [InlineData("avx2 avx512f avx512bw avx512vl", new[] { "AVX2", "AVX-512" })]
    [InlineData("amx_bf16 avx512_bf16 avx512f avx2 amx_tile", new[] { "AVX2", "AVX-512", "AVX512-BF16", "AMX-BF16" })]
    [InlineData("fpu sse2 avx", new string[0])]
    [InlineData("", new string[0])]
    public void VectorExtensions_OfACpuinfoFlagsLine_NameTheOnesThatDecideSpeedHereInOrder(string flags, string[] expected) =>
        Assert.Equal(expected, MachineInfo.VectorExtensions(flags));
}
