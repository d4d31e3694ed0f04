// Grokfast's EMA filter and Adam/AdamW in one pass: per element the gradient is filtered, and the filtered value goes
// straight into the Adam step without being written back (p.grad keeps the raw gradient).
// Bytes per element: 36 (read g, ema, p, m, v: 20; write ema, p, m, v: 16), against 16 + 28 for the two passes.
// Versions, side by side: Kernel (ILGPU) and StepRange (its vectorised twin); both call the filter's and Adam's
// element math (EmaKernels.Element / FilterLanes, AdamKernels.Element / StepLanes), so the fused step rounds exactly as the filter
// followed by the optimizer.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Kernels.Ema;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Adam;

/// <summary>The EMA filter fused into Adam/AdamW: the ILGPU kernel and its vectorised CPU twin.</summary>
internal static unsafe class EmaAdamKernels
{
    /// <summary>Bytes one step moves per parameter element.</summary>
    public const int BytesPerElement = 36;

    /// <summary>The pass and its prepare kernel on libtorch's CUDA device; the step counts live in <paramref name="steps"/>.</summary>
    internal static FusedAdamCudaKernel<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>> CreateCuda(CudaPrimaryContext context, CudaStepState steps) =>
        new(context, steps, Kernel, Prepare, filtered: true);

    /// <summary>
    /// The pass for parameters and gradients of <paramref name="format"/> — float32, or 16-bit through float32 master weights
    /// (<paramref name="withMaster"/>) or directly — with the float32 pass's prepare kernel.
    /// </summary>
    internal static FusedAdamCudaKernel<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>> CreateCuda(CudaPrimaryContext context, CudaStepState steps, GradientFormat format, bool withMaster) => format.Select(
        () => CreateCuda(context, steps),
        () => new FusedAdamCudaKernel<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>>(context, steps, withMaster ? EmaAdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>.Kernel : EmaAdamHalfKernels<BFloat16Format, DirectWeights<BFloat16Format>>.Kernel, Prepare, filtered: true, sizeof(ushort), withMaster),
        () => new FusedAdamCudaKernel<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>>(context, steps, withMaster ? EmaAdamHalfKernels<Float16Format, MasterWeights<Float16Format>>.Kernel : EmaAdamHalfKernels<Float16Format, DirectWeights<Float16Format>>.Kernel, Prepare, filtered: true, sizeof(ushort), withMaster));

    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop (see EmaKernels.Kernel); nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> ema, ArrayView<float> p, ArrayView<float> m, ArrayView<float> v,
        ArrayView<FusedAdamConstants<EmaConstants>> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        EmaConstants f = step[0].Filter;
        AdamConstants c = step[0].Adam;
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            float gi = g[i];
            FilteredElement filtered = EmaKernels.Element(gi, f.Initialize != 0 ? gi : ema[i], f);
            ema[i] = filtered.State;
            AdamElement e = AdamKernels.Element(filtered.Gradient, p[i], m[i], v[i], c);
            p[i] = e.Parameter;
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }

    /// <summary>
    /// The CUDA path's step on the device (see EmaKernels.Prepare): unless <c>skip[0]</c> is set, the filter's and
    /// Adam's constants of the run's next step into <c>step[0]</c>, and one more step counted for each of its parameters.
    /// </summary>
    internal static void Prepare(Index1D thread, ArrayView<int> skip, ArrayView<long> steps, ArrayView<float> covariances,
        ArrayView<FusedAdamConstants<EmaConstants>> step, FusedAdamSettings<EmaSettings> settings)
    {
        if (thread.X != 0 || skip[0] != 0) return;
        long before = steps[0];
        step[0] = new FusedAdamConstants<EmaConstants>(settings.Filter.At(before), settings.Adam.At(before + 1));
        for (long i = 0; i < steps.Length; i++) steps[i] = before + 1;
    }

    /// <summary>The same step over <paramref name="count"/> contiguous elements, eight lanes at a time.</summary>
    internal static void StepRange(float* g, float* ema, float* p, float* m, float* v, long count, EmaConstants f, AdamConstants c)
    {
        var alpha = new Vector<float>(f.Alpha);
        var oneMinusAlpha = new Vector<float>(f.OneMinusAlpha);
        var lamb = new Vector<float>(f.Lamb);
        bool initialize = f.Initialize != 0;
        var lanes = new AdamLanes(c);
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
            AdamKernels.StepLanes(EmaKernels.FilterLanes(Vector.Load(g + i), ema + i, alpha, oneMinusAlpha, lamb, initialize), p + i, m + i, v + i, lanes);
        for (; i < count; i++)
        {
            FilteredElement filtered = EmaKernels.Element(g[i], initialize ? g[i] : ema[i], f);
            ema[i] = filtered.State;
            AdamKernels.StepElement(filtered.Gradient, p + i, m + i, v + i, c);
        }
    }
}
