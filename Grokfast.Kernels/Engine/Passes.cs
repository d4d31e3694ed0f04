using System.Reflection;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// Builds a pass from what is known at run time — the gradients' format and the update — by choosing the generic
/// instantiation once: the one dispatch of the engine.
/// </summary>
public static class Passes
{
    /// <summary>
    /// The pass of <typeparamref name="TFilter"/> over host memory: the CPU twin, or with <paramref name="accelerator"/> the
    /// ILGPU pass on ILGPU's CPU accelerator.
    /// </summary>
    public static IHostPass<TFilter> CreateHost<TFilter>(IlgpuAccelerator? accelerator, GradientFormat format, PassUpdate update, PassBuffers buffers)
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        buffers.Validate<TFilter>(update);
        return Instantiate(format, update, new HostPasses<TFilter>(accelerator, buffers));
    }

    /// <summary>The pass of <typeparamref name="TFilter"/> and its prepare kernel on libtorch's CUDA device; the step counts live in <paramref name="steps"/>.</summary>
    public static ICudaPass<TSettings> CreateCuda<TSettings, TFilter>(CudaPrimaryContext context, CudaStepState steps, GradientFormat format, PassUpdate update, PassBuffers buffers)
        where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        buffers.Validate<TFilter>(update);
        return Instantiate(format, update, new CudaPasses<TSettings, TFilter>(context, steps, buffers));
    }

    /// <summary>The ILGPU pass kernel of <typeparamref name="TFilter"/> for <paramref name="format"/> and <paramref name="update"/> (for the PTX tests).</summary>
    internal static MethodInfo KernelOf<TFilter>(GradientFormat format, PassUpdate update)
        where TFilter : unmanaged, IFilterStep<TFilter> => Instantiate(format, update, new KernelMethods<TFilter>());

    /// <summary>
    /// Bytes a pass of <typeparamref name="TFilter"/> moves per element in steady state, what bandwidth figures count
    /// (write-allocate aside): the gradient read, and written back unless Adam takes it; the estimate read and written;
    /// the float64 sum read and written; for Adam both moments, and the parameter read and written in its format, or the
    /// master read and written in float32 and the parameter written.
    /// </summary>
    public static int BytesPerElement<TFilter>(GradientFormat format, PassUpdate update)
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        int element = format.ElementSize();
        int bytes = element * (update == PassUpdate.WriteBack ? 2 : 1);
        if (TFilter.KeepsEstimate) bytes += 2 * sizeof(float);
        if (TFilter.KeepsSum) bytes += 2 * sizeof(double);
        return bytes + update switch
        {
            PassUpdate.AdamDirect => 4 * sizeof(float) + 2 * element,
            PassUpdate.AdamMaster => 4 * sizeof(float) + 2 * sizeof(float) + element,
            _ => 0,
        };
    }

    /// <summary>Every pass the engine instantiates: the formats a pass runs on, each with every update it takes.</summary>
    internal static IEnumerable<(GradientFormat Format, PassUpdate Update)> Instantiations =>
        from format in new[] { GradientFormat.Float32, GradientFormat.BFloat16, GradientFormat.Float16 }
        from update in Enum.GetValues<PassUpdate>()
        where format != GradientFormat.Float32 || update != PassUpdate.AdamMaster
        select (format, update);

    private static TResult Instantiate<TResult>(GradientFormat format, PassUpdate update, IPassInstantiation<TResult> make) =>
        format.Instantiate<TResult, WithUpdate<TResult>>(new WithUpdate<TResult>(update, make));

    /// <summary>The format's types handed on with the update's.</summary>
    private readonly struct WithUpdate<TResult>(PassUpdate update, IPassInstantiation<TResult> make) : IFormatInstantiation<TResult>
    {
        public TResult Create<TStore, TFormat>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore> => update switch
        {
            PassUpdate.WriteBack => make.Create<TStore, TFormat, WriteBack>(),
            PassUpdate.AdamDirect => make.Create<TStore, TFormat, AdamDirect>(),
            PassUpdate.AdamMaster when typeof(TStore) != typeof(float) => make.Create<TStore, TFormat, AdamMaster>(),
            PassUpdate.AdamMaster => throw new ArgumentOutOfRangeException(nameof(update), update, "float32 parameters have no master weights."),
            _ => throw new ArgumentOutOfRangeException(nameof(update), update, "Unknown update."),
        };
    }

    /// <summary>Builds something for one choice of storage, format and update.</summary>
    private interface IPassInstantiation<out TResult>
    {
        TResult Create<TStore, TFormat, TUpdate>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore>
            where TUpdate : struct, IPassUpdate;
    }

    private sealed class HostPasses<TFilter>(IlgpuAccelerator? accelerator, PassBuffers buffers) : IPassInstantiation<IHostPass<TFilter>>
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        public IHostPass<TFilter> Create<TStore, TFormat, TUpdate>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore>
            where TUpdate : struct, IPassUpdate =>
            accelerator is null
                ? new CpuPass<TStore, TFormat, TFilter, TUpdate>(buffers)
                : new IlgpuPass<TStore, TFormat, TFilter, TUpdate>(accelerator, buffers);
    }

    private sealed class CudaPasses<TSettings, TFilter>(CudaPrimaryContext context, CudaStepState steps, PassBuffers buffers) : IPassInstantiation<ICudaPass<TSettings>>
        where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        public ICudaPass<TSettings> Create<TStore, TFormat, TUpdate>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore>
            where TUpdate : struct, IPassUpdate => new CudaPass<TStore, TFormat, TSettings, TFilter, TUpdate>(context, steps, buffers);
    }

    private sealed class KernelMethods<TFilter> : IPassInstantiation<MethodInfo>
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        public MethodInfo Create<TStore, TFormat, TUpdate>()
            where TStore : unmanaged
            where TFormat : struct, IGradientFormat<TStore>
            where TUpdate : struct, IPassUpdate => ((Delegate)PassKernel<TStore, TFormat, TFilter, TUpdate>.Kernel).Method;
    }
}
