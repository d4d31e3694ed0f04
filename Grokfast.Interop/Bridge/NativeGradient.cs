using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>
/// The per-step question "is this parameter's gradient still its view of the flat buffer?", answered
/// through LibTorchSharp's C exports without creating a managed <see cref="Tensor"/> wrapper: TorchSharp's
/// <c>p.grad</c> allocates a wrapper (and registers a finalizer) per call, which for a model of many
/// small tensors cost more than the fused pass itself. The exports are those TorchSharp's own
/// <c>grad</c>, <c>numel</c> and <c>Dispose</c> call.
/// </summary>
internal static partial class NativeGradient
{
    private const string LibTorchSharp = "LibTorchSharp";

    /// <summary>What <see cref="Inspect"/> found.</summary>
    internal enum State
    {
        /// <summary>The parameter has no gradient.</summary>
        Missing,

        /// <summary>The gradient is the expected view: same first element, same length.</summary>
        View,

        /// <summary>The gradient is some other tensor.</summary>
        Other,
    }

    /// <summary>Classifies the gradient of <paramref name="parameter"/> against the view at <paramref name="address"/> of <paramref name="length"/> elements.</summary>
    internal static State Inspect(Tensor parameter, nint address, long length)
    {
        nint grad = THSTensor_grad(parameter.Handle);
        if (grad == 0)
        {
            torch.CheckForErrors();
            return State.Missing;
        }
        try
        {
            nint data = THSTensor_data(grad);
            if (data == 0)
            {
                // A gradient without plain strided data (sparse, say): let the caller's checks name it.
                ClearPendingError();
                return State.Other;
            }
            return data == address && THSTensor_numel(grad) == length ? State.View : State.Other;
        }
        finally
        {
            THSTensor_dispose(grad);
        }
    }

    /// <summary>
    /// Whether the data of <paramref name="tensor"/> (a parameter, say) is still the view at <paramref name="address"/>
    /// of <paramref name="length"/> elements — the same question for a parameter's own values, just as allocation-free.
    /// </summary>
    internal static bool DataIsAt(Tensor tensor, nint address, long length)
    {
        nint data = THSTensor_data(tensor.Handle);
        if (data == 0)
        {
            ClearPendingError();
            return false;
        }
        return data == address && THSTensor_numel(tensor.Handle) == length;
    }

    private static void ClearPendingError()
    {
        try
        {
            torch.CheckForErrors();
        }
        catch (ExternalException)
        {
            // Expected: the error THSTensor_data left behind, which must not surface at an unrelated later call.
        }
    }

    [LibraryImport(LibTorchSharp)]
    private static partial nint THSTensor_grad(nint tensor);

    [LibraryImport(LibTorchSharp)]
    private static partial nint THSTensor_data(nint tensor);

    [LibraryImport(LibTorchSharp)]
    private static partial long THSTensor_numel(nint tensor);

    [LibraryImport(LibTorchSharp)]
    private static partial void THSTensor_dispose(nint tensor);
}
