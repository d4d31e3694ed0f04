namespace Grokfast.Kernels.Backends;

/// <summary>Four floats loaded and stored as one 16-byte access (<c>ld.v4.f32</c> in the PTX) by the vectorised CUDA passes.</summary>
internal struct Float4(float x, float y, float z, float w)
{
    public float X = x;
    public float Y = y;
    public float Z = z;
    public float W = w;
}
