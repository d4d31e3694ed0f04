using Grokfast.Kernels.Backends;

namespace Grokfast.Tests.Support;

/// <summary>A fact that needs a CUDA device: reported as skipped, never as passed, where there is none.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class CudaFactAttribute : FactAttribute
{
    private static readonly Lazy<bool> HasCudaDevice = new(() =>
    {
        using IlgpuAccelerator? cuda = IlgpuAccelerator.TryCreateCuda();
        return cuda is not null;
    });

    public CudaFactAttribute()
    {
        if (!HasCudaDevice.Value) Skip = "No CUDA device or driver on this machine.";
    }
}
