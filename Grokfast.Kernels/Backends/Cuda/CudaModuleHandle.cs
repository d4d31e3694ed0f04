namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>A module loaded into a primary context, unloaded exactly once.</summary>
internal sealed class CudaModuleHandle : CudaContextBoundHandle
{
    private CudaModuleHandle(CudaContextHandle context)
        : base(context)
    {
    }

    /// <summary>Loads <paramref name="image"/> (PTX, NUL-terminated); the context must be current.</summary>
    public static unsafe CudaModuleHandle Load(CudaContextHandle context, byte[] image)
    {
        var loaded = new CudaModuleHandle(context);
        nint module;
        fixed (byte* data = image) context.Driver.Check(context.Driver.ModuleLoadData(out module, data), "cuModuleLoadData");
        loaded.Own(module);
        return loaded;
    }

    private protected override int Free(nint value) => Driver.ModuleUnload(value);
}
