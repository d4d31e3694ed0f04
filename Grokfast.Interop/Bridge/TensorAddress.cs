using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>Raw addresses of float32 tensors, through TorchSharp's public storage API.</summary>
internal static class TensorAddress
{
    /// <summary>
    /// Address of the first element of <paramref name="tensor"/> (host or device memory): the storage's
    /// base plus the tensor's offset into it. The caller checks the dtype first: for any other dtype
    /// TorchSharp's <c>storage&lt;float&gt;()</c> would convert into a temporary copy.
    /// </summary>
    internal static nint OfFloat32(Tensor tensor)
    {
        if (tensor.dtype != ScalarType.Float32)
            throw new ArgumentException($"Expected a float32 tensor, got {tensor.dtype}.", nameof(tensor));
        // storage<float>() creates a temporary aliasing tensor; the scope frees it now, not at GC time.
        using DisposeScope scope = torch.NewDisposeScope();
        return tensor.storage<float>().data_ptr() + (nint)(tensor.storage_offset() * sizeof(float));
    }
}
