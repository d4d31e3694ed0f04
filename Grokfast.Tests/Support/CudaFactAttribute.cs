using System.Runtime.CompilerServices;
using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Tests.Support;

/// <summary>
/// A fact that needs a CUDA device and driver: reported as skipped, never as passed, where there is none. Classes of
/// such facts carry the trait <c>Requires=Cuda</c>, which tools/gpu/run.sh selects on a GPU machine.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class CudaFactAttribute : FactAttribute
{
    /// <summary>The trait's name.</summary>
    public const string Trait = "Requires";

    /// <summary>The trait's value.</summary>
    public const string TraitValue = "Cuda";

    /// <summary>Why CUDA device 0 cannot be used here; null on a GPU machine.</summary>
    internal static readonly Lazy<string?> WhyNoCudaDevice = new(() => CudaPrimaryContext.WhyUnavailable(0));

    internal static bool HasCudaDevice => WhyNoCudaDevice.Value is null;

    public CudaFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (!HasCudaDevice) Skip = $"No CUDA device here: {WhyNoCudaDevice.Value}.";
    }
}
