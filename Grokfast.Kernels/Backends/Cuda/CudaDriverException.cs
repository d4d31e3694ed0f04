namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>A CUDA driver call failed; <see cref="Result"/> is its <c>CUresult</c>.</summary>
public sealed class CudaDriverException : Exception
{
    /// <summary>An exception for the driver's <paramref name="result"/>.</summary>
    public CudaDriverException(string message, int result)
        : base(message)
    {
        Result = result;
    }

    /// <summary>The driver's error code.</summary>
    public int Result { get; }
}
