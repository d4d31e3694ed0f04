using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// An <c>ArrayView</c> argument as ILGPU's PTX receives it: the address of the first element, then the length
/// in elements (16 bytes, 8-aligned; <c>PtxGenerationTests</c> checks each kernel's declaration).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct DeviceView(nint address, long length)
{
    public readonly nint Address = address;
    public readonly long Length = length;
}
