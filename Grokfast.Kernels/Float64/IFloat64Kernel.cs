namespace Grokfast.Kernels.Float64;

/// <summary>
/// A float64 filter's pass over a flat float64 gradient buffer and one float64 state buffer of the same length (the
/// EMA's average, the Kalman estimate): it reads both and writes both, 32 bytes per element.
/// </summary>
/// <typeparam name="TConstants">The filter's per-step scalars, computed on the host.</typeparam>
internal interface IFloat64Kernel<in TConstants> : IDisposable
    where TConstants : unmanaged
{
    /// <summary>Points the kernel at the buffers; call again whenever either moves.</summary>
    /// <param name="gradients">Address of the first gradient (host or device memory, matching the backend).</param>
    /// <param name="state">Address of the first state element.</param>
    /// <param name="length">Elements in each buffer.</param>
    void Bind(nint gradients, nint state, long length);

    /// <summary>Filters elements [offset, offset + length) of the bound buffers; returns when the writes are visible.</summary>
    void Filter(long offset, long length, TConstants constants);
}
