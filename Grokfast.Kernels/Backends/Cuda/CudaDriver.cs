using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>What every CUDA call site shares: the driver's constants and the check that turns a failure into an exception.</summary>
internal static class CudaDriver
{
    internal const int DeviceAttributeMultiprocessorCount = 16;
    internal const int DeviceAttributeComputeCapabilityMajor = 75;
    internal const int DeviceAttributeComputeCapabilityMinor = 76;

    /// <summary>
    /// The legacy default stream: work on it waits for, and is waited for by, every blocking stream of the
    /// context. It is libtorch's default stream, which TorchSharp never changes, so a launch here is ordered
    /// after the backward pass that wrote the gradients and before the optimizer step that reads them.
    /// </summary>
    internal static readonly nint LegacyDefaultStream = 0;

    /// <summary>Throws <see cref="CudaDriverException"/> naming <paramref name="call"/> unless <paramref name="result"/> is CUDA_SUCCESS.</summary>
    internal static void Check(this ICudaDriver driver, int result, string call)
    {
        if (result == 0) return;
        throw new CudaDriverException($"{call} failed: {driver.ErrorName(result)}.", result);
    }

    /// <summary>The driver's name for <paramref name="result"/>, e.g. CUDA_ERROR_NO_DEVICE.</summary>
    internal static string ErrorName(this ICudaDriver driver, int result) =>
        driver.GetErrorName(result, out nint text) == 0 && text != 0 ? Marshal.PtrToStringAnsi(text)! : $"error {result}";
}
