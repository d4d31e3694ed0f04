using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Kernels.Backends;

/// <summary>
/// A memory buffer over device memory that somebody else allocated and frees: it only lends its
/// address to kernel launches. ILGPU 1.5.3 has no public way to wrap a device pointer, so this
/// subclass sets the protected <see cref="MemoryBuffer.NativePtr"/> and owns nothing.
/// </summary>
internal sealed class DevicePointerBuffer : MemoryBuffer
{
    internal DevicePointerBuffer(Accelerator accelerator, nint address, long length, int elementSize)
        : base(accelerator, length, elementSize)
    {
        NativePtr = address;
    }

    // Kernels read and write the memory; filling and copying it is the owner's business, so ILGPU's
    // copy and fill entry points are refused rather than half-implemented here.
    protected override void MemSet(AcceleratorStream stream, byte value, in ArrayView<byte> targetView) =>
        throw new NotSupportedException("A borrowed device buffer is not filled through ILGPU; use the memory's owner.");

    protected override void CopyTo(AcceleratorStream stream, in ArrayView<byte> sourceView, in ArrayView<byte> targetView) =>
        throw new NotSupportedException("A borrowed device buffer is not copied through ILGPU; use the memory's owner.");

    protected override void CopyFrom(AcceleratorStream stream, in ArrayView<byte> sourceView, in ArrayView<byte> targetView) =>
        throw new NotSupportedException("A borrowed device buffer is not copied through ILGPU; use the memory's owner.");

    protected override void DisposeAcceleratorObject(bool disposing)
    {
        // Nothing to free: the memory belongs to its allocator.
    }
}
