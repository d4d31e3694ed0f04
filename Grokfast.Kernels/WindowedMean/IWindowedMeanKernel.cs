namespace Grokfast.Kernels.WindowedMean;

/// <summary>
/// One fused windowed-mean (Grokfast-MA) pass over a flat float32 gradient buffer with O(1) work per element:
/// the new gradient replaces the oldest in a ring of the last <c>window</c> gradients, a float64 running sum
/// is updated by the difference, and <c>g += lamb * sum * scale</c>. Bytes per element: 32 (read g, the slot
/// and the sum; write the slot, the sum and g).
/// </summary>
public interface IWindowedMeanKernel : IDisposable
{
    /// <summary>Points the kernel at its buffers; call again whenever any of them moves.</summary>
    /// <param name="gradients">Address of the first of <paramref name="length"/> float32 gradients.</param>
    /// <param name="ring">Address of <paramref name="windowSize"/> × <paramref name="length"/> float32 slots, slot-major, zeroed before the first step.</param>
    /// <param name="sums">Address of <paramref name="length"/> float64 running sums, zeroed before the first step.</param>
    /// <param name="length">Gradient elements.</param>
    /// <param name="windowSize">Gradients the ring holds.</param>
    void Bind(nint gradients, nint ring, nint sums, long length, int windowSize);

    /// <summary>Filters elements [offset, offset + length); returns when the writes are visible.</summary>
    void Filter(long offset, long length, WindowedMeanConstants constants);
}
