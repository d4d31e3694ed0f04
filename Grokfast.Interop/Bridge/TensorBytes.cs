using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>A contiguous state tensor's raw bytes, copied out for a checkpoint and back in on load.</summary>
internal static class TensorBytes
{
    /// <summary>Bytes of <paramref name="tensor"/>, which must be contiguous.</summary>
    public static long Length(Tensor tensor) => tensor.numel() * tensor.element_size();

    /// <summary>A copy of the tensor's bytes (host memory; a device tensor goes through a host copy).</summary>
    public static byte[] Read(Tensor tensor)
    {
        using Tensor host = tensor.cpu();
        byte[] bytes = new byte[checked((int)Length(host))];
        if (bytes.Length > 0) Marshal.Copy(Address(host), bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>Overwrites the tensor's contents with <paramref name="bytes"/> (exactly its length, checked by the caller).</summary>
    public static void Write(Tensor tensor, byte[] bytes)
    {
        if (bytes.Length == 0) return;
        using Tensor host = torch.empty_like(tensor, device: torch.CPU);
        Marshal.Copy(bytes, 0, Address(host), bytes.Length);
        using (torch.no_grad()) tensor.copy_(host);
    }

    private static nint Address(Tensor tensor) => tensor.dtype switch
    {
        ScalarType.Float32 => TensorAddress.OfFloat32(tensor),
        ScalarType.Float64 => TensorAddress.OfFloat64(tensor),
        _ => throw new NotSupportedException($"State tensors are float32 or float64, not {tensor.dtype}."),
    };
}
