using System.Runtime.CompilerServices;

namespace Grokfast.Tests.Support;

/// <summary>A fact about behaviour without a GPU: skipped where a CUDA device is present.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class NoCudaFactAttribute : FactAttribute
{
    public NoCudaFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (CudaFactAttribute.HasCudaDevice) Skip = "This machine has a CUDA device.";
    }
}
