namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>There is no usable CUDA device; the message says why (no driver, the driver failed to start, no such device).</summary>
public sealed class CudaUnavailableException : InvalidOperationException
{
    /// <summary>An exception whose message is <paramref name="message"/>.</summary>
    public CudaUnavailableException(string message)
        : base(message)
    {
    }
}
