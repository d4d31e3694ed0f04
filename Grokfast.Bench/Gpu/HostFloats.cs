using System.Runtime.InteropServices;

namespace Grokfast.Bench.Gpu;

/// <summary>Zeroed, 64-byte-aligned host memory for the CPU twins the GPU check compares with.</summary>
internal sealed unsafe class HostFloats : IDisposable
{
    private readonly float* data;

    public HostFloats(long length)
    {
        Length = length;
        data = (float*)NativeMemory.AlignedAlloc((nuint)(length * sizeof(float)), 64);
        NativeMemory.Clear(data, (nuint)(length * sizeof(float)));
    }

    public long Length { get; }

    public nint Address => (nint)data;

    public Span<float> Span => new(data, checked((int)Length));

    public void Dispose() => NativeMemory.AlignedFree(data);
}
