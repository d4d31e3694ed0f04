using System.Runtime.InteropServices;

namespace Grokfast.Tests.Support;

/// <summary>Equality of bit patterns: 0 and -0 differ, a NaN equals only the same NaN.</summary>
internal static class BitAssert
{
    public static void Equal<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, string what)
        where T : unmanaged
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (!MemoryMarshal.AsBytes(expected.Slice(i, 1)).SequenceEqual(MemoryMarshal.AsBytes(actual.Slice(i, 1))))
                Assert.Fail($"{what}: element {i} of {expected.Length} is {actual[i]}, expected {expected[i]}.");
        }
    }
}
