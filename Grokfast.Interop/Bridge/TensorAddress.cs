using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>Raw addresses of float32 tensors, through TorchSharp's public storage API.</summary>
internal static partial class TensorAddress
{
    /// <summary>
    /// Address of the first element of <paramref name="tensor"/> (host or device memory): the storage's
    /// base plus the tensor's offset into it. The caller checks the dtype first: for any other dtype
    /// TorchSharp's <c>storage&lt;float&gt;()</c> would convert into a temporary copy.
    /// </summary>
    internal static nint OfFloat32(Tensor tensor) => Of<float>(tensor, ScalarType.Float32);

    /// <summary>As <see cref="OfFloat32"/>, for a float64 tensor.</summary>
    internal static nint OfFloat64(Tensor tensor) => Of<double>(tensor, ScalarType.Float64);

    /// <summary>
    /// Address of the first element of <paramref name="tensor"/> of any dtype, from LibTorchSharp's <c>THSTensor_data</c>
    /// (what TorchSharp's own data accessors call): TorchSharp's <c>storage&lt;T&gt;()</c> has no bfloat16 or float16.
    /// </summary>
    internal static nint OfAny(Tensor tensor)
    {
        nint data = THSTensor_data(tensor.Handle);
        if (data == 0) torch.CheckForErrors();
        return data;
    }

    [LibraryImport("LibTorchSharp")]
    private static partial nint THSTensor_data(nint tensor);

    private static unsafe nint Of<T>(Tensor tensor, ScalarType dtype)
        where T : unmanaged
    {
        if (tensor.dtype != dtype)
            throw new ArgumentException($"Expected a {dtype} tensor, got {tensor.dtype}.", nameof(tensor));
        // storage<T>() creates a temporary aliasing tensor; the scope frees it now, not at GC time.
        using DisposeScope scope = torch.NewDisposeScope();
        return tensor.storage<T>().data_ptr() + (nint)(tensor.storage_offset() * sizeof(T));
    }
}
