using System.Runtime.InteropServices;

namespace Grokfast.Tests.Support;

/// <summary>Floats in native memory that does not move, for kernels that take raw addresses.</summary>
internal sealed unsafe class NativeFloats : IDisposable
{
    private float* data;

    public NativeFloats(int length)
    {
        Length = length;
        data = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, length) * sizeof(float), 64);
        Span.Clear();
    }

    public int Length { get; }

    public nint Address => (nint)data;

    public Span<float> Span => new(data, Length);

    public void Dispose()
    {
        NativeMemory.AlignedFree(data);
        data = null;
    }
}
