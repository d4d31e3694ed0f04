// Adam / AdamW, fused: per element, read g, p, m and v once and write p, m and v once.
// Bytes per element: 28 (read g, p, m, v: 16; write p, m, v: 12).
// The element math follows TorchSharp 0.107's Adam/AdamW operation by operation, each rounded on its own:
//   AdamW: p = p * (1 - lr*wd);  Adam: g = g + wd*p
//   m = m*beta1 + (1-beta1)*g;  v = v*beta2 + ((1-beta2)*g)*g
//   p = p + (-step_size * m) / (sqrt(v) / sqrt(bias_correction2) + eps)
// Versions, side by side: Kernel (ILGPU; run on ILGPU's CPU accelerator in tests, and as PTX on CUDA) and StepRange
// (its twin: Vector<float>, IEEE square root and division, no fused multiply-add).
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// The fused Adam/AdamW step: the ILGPU kernel and its vectorised CPU twin. Internal until the fused optimizer that
/// runs it (with a Grokfast filter in the same pass) is built on it.
/// </summary>
internal static unsafe class AdamKernels
{
    /// <summary>Bytes one step moves per parameter element (read g, p, m, v; write p, m, v).</summary>
    public const int BytesPerElement = 28;

    /// <summary>The pass and its prepare kernel on libtorch's CUDA device; the step counts live in <paramref name="steps"/>.</summary>
    internal static FusedAdamCudaKernel<AdamConstants, AdamSettings> CreateCuda(CudaPrimaryContext context, CudaStepState steps) =>
        new(context, steps, Kernel, Prepare, filtered: false);

    /// <summary>
    /// The pass for parameters and gradients of <paramref name="format"/> — float32, or 16-bit through float32 master weights
    /// (<paramref name="withMaster"/>) or directly — with the float32 pass's prepare kernel.
    /// </summary>
    internal static FusedAdamCudaKernel<AdamConstants, AdamSettings> CreateCuda(CudaPrimaryContext context, CudaStepState steps, GradientFormat format, bool withMaster) => format.Select(
        () => CreateCuda(context, steps),
        () => new FusedAdamCudaKernel<AdamConstants, AdamSettings>(context, steps, withMaster ? AdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>.Kernel : AdamHalfKernels<BFloat16Format, DirectWeights<BFloat16Format>>.Kernel, Prepare, filtered: false, sizeof(ushort), withMaster),
        () => new FusedAdamCudaKernel<AdamConstants, AdamSettings>(context, steps, withMaster ? AdamHalfKernels<Float16Format, MasterWeights<Float16Format>>.Kernel : AdamHalfKernels<Float16Format, DirectWeights<Float16Format>>.Kernel, Prepare, filtered: false, sizeof(ushort), withMaster));

    /// <summary>One element's step, written once for every version: the kernel and the twin's scalar tail call it.</summary>
    /// <param name="g">The gradient (already filtered, when a Grokfast filter runs first).</param>
    /// <param name="p">The parameter.</param>
    /// <param name="m">The first moment before the step.</param>
    /// <param name="v">The second moment before the step.</param>
    /// <param name="c">The step's constants.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static AdamElement Element(float g, float p, float m, float v, AdamConstants c)
    {
        // Uniform branches: with the decay off, nothing at all is computed for it (0·p would turn an infinite p into NaN).
        if (c.DecayFactor != 1) p *= c.DecayFactor;
        if (c.WeightDecay != 0) g += c.WeightDecay * p;
        float nextM = m * c.Beta1 + c.OneMinusBeta1 * g;
        float nextV = v * c.Beta2 + c.OneMinusBeta2 * g * g;
        float denominator = MathF.Sqrt(nextV) / c.BiasCorrection2Sqrt + c.Eps;
        return new AdamElement(p + c.NegativeStepSize * nextM / denominator, nextM, nextV);
    }

    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop (see EmaKernels.Kernel); nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> p, ArrayView<float> m, ArrayView<float> v,
        ArrayView<AdamConstants> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        AdamConstants c = step[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            AdamElement e = Element(g[i], p[i], m[i], v[i], c);
            p[i] = e.Parameter;
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }

    /// <summary>
    /// The CUDA path's step on the device (see EmaKernels.Prepare): unless <c>skip[0]</c> is set, Adam's constants of the
    /// run's next step into <c>step[0]</c>, and one more step counted for each of its parameters.
    /// </summary>
    internal static void Prepare(Index1D thread, ArrayView<int> skip, ArrayView<long> steps, ArrayView<float> covariances,
        ArrayView<AdamConstants> step, AdamSettings settings)
    {
        if (thread.X != 0 || skip[0] != 0) return;
        long before = steps[0];
        step[0] = settings.At(before + 1);
        for (long i = 0; i < steps.Length; i++) steps[i] = before + 1;
    }

    /// <summary>The same step over <paramref name="count"/> contiguous elements, eight lanes at a time.</summary>
    internal static void StepRange(float* g, float* p, float* m, float* v, long count, AdamConstants c)
    {
        var lanes = new AdamLanes(c);
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count) StepLanes(Vector.Load(g + i), p + i, m + i, v + i, lanes);
        for (; i < count; i++) StepElement(g[i], p + i, m + i, v + i, c);
    }

    /// <summary>One element's step in place, for the scalar tails of the twins.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StepElement(float g, float* p, float* m, float* v, AdamConstants c)
    {
        AdamElement e = Element(g, *p, *m, *v, c);
        *p = e.Parameter;
        *m = e.FirstMoment;
        *v = e.SecondMoment;
    }

    /// <summary>
    /// <see cref="Element"/> on eight lanes in place: the same operations in the same order, for the twins' vector
    /// bodies (this one's and the fused filter-and-Adam twins').
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void StepLanes(Vector<float> g, float* p, float* m, float* v, in AdamLanes c)
    {
        Vector<float> pv = Vector.Load(p);
        if (c.Decoupled) pv *= c.DecayFactor;
        if (c.Coupled) g += c.WeightDecay * pv;
        Vector<float> mv = Vector.Load(m) * c.Beta1 + c.OneMinusBeta1 * g;
        Vector<float> vv = Vector.Load(v) * c.Beta2 + c.OneMinusBeta2 * g * g;
        Vector<float> denominator = Vector.SquareRoot(vv) / c.BiasCorrection2Sqrt + c.Eps;
        Vector.Store(pv + c.NegativeStepSize * mv / denominator, p);
        Vector.Store(mv, m);
        Vector.Store(vv, v);
    }
}
