using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>A contiguous float32 or float64 state tensor's size and address in bytes, for checkpoints (<see cref="TensorStateBuffer"/>).</summary>
internal static class TensorBytes
{
    /// <summary>Bytes of <paramref name="tensor"/>, which must be contiguous.</summary>
    public static long Length(Tensor tensor) => tensor.numel() * tensor.element_size();

    /// <summary>Address of the first element (host or device memory).</summary>
    public static nint Address(Tensor tensor) => tensor.dtype switch
    {
        ScalarType.Float32 => TensorAddress.OfFloat32(tensor),
        ScalarType.Float64 => TensorAddress.OfFloat64(tensor),
        _ => throw new NotSupportedException($"State tensors are float32 or float64, not {tensor.dtype}."),
    };
}
