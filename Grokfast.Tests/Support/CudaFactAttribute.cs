using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Tests.Support;

/// <summary>A fact that needs a CUDA device and driver: reported as skipped, never as passed, where there is none.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class CudaFactAttribute : FactAttribute
{
    internal static readonly Lazy<bool> HasCudaDevice = new(() =>
    {
        using CudaPrimaryContext? context = CudaPrimaryContext.TryOpen(0);
        return context is not null;
    });

    public CudaFactAttribute()
    {
        if (!HasCudaDevice.Value) Skip = "No CUDA device or driver on this machine.";
    }
}
