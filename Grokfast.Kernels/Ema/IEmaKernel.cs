namespace Grokfast.Kernels.Ema;

/// <summary>
/// One fused EMA pass over a flat float32 gradient buffer and its equally long average buffer:
/// <c>ema = alpha*ema + (1-alpha)*g; g += lamb*ema</c>. Reads g and ema, writes both: 16 bytes per element.
/// </summary>
public interface IEmaKernel : IDisposable
{
    /// <summary>Points the kernel at the buffers it will filter; call again whenever either moves.</summary>
    /// <param name="gradients">Address of the first gradient (host or device memory, matching the backend).</param>
    /// <param name="ema">Address of the first element of the running average.</param>
    /// <param name="length">Elements in each buffer.</param>
    void Bind(nint gradients, nint ema, long length);

    /// <summary>Filters elements [offset, offset + length) of the bound buffers; returns when the writes are visible.</summary>
    void Filter(long offset, long length, EmaConstants constants);
}
