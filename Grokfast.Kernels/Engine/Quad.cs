namespace Grokfast.Kernels.Engine;

/// <summary>Four consecutive elements loaded or stored as one access (16 bytes of floats: <c>ld.v4.f32</c> in the PTX).</summary>
internal readonly struct Quad<T>(T x, T y, T z, T w)
    where T : unmanaged
{
    public readonly T X = x;
    public readonly T Y = y;
    public readonly T Z = z;
    public readonly T W = w;
}
