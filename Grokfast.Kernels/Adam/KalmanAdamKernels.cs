// Grokfast's Kalman filter and Adam/AdamW in one pass: per element the estimate x tracks the gradient, g + lamb·x goes
// straight into the Adam step and is not written back (p.grad keeps the raw gradient).
// Bytes per element: 36 (read g, x, p, m, v: 20; write x, p, m, v: 16), against 16 + 28 for the two passes.
// Versions, side by side: Kernel (ILGPU) and StepRange (its vectorised twin), on the filter's and Adam's element math.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Kernels.Kalman;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Adam;

/// <summary>The Kalman filter fused into Adam/AdamW: the ILGPU kernel and its vectorised CPU twin.</summary>
internal static unsafe class KalmanAdamKernels
{
    /// <summary>Bytes one step moves per parameter element.</summary>
    public const int BytesPerElement = 36;

    /// <summary>The pass and its prepare kernel on libtorch's CUDA device; the step counts live in <paramref name="steps"/>.</summary>
    internal static FusedAdamCudaKernel<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>> CreateCuda(CudaPrimaryContext context, CudaStepState steps) =>
        new(context, steps, Kernel, Prepare, filtered: true);

    /// <summary>
    /// The pass for parameters and gradients of <paramref name="format"/> — float32, or 16-bit through float32 master weights
    /// (<paramref name="withMaster"/>) or directly — with the float32 pass's prepare kernel.
    /// </summary>
    internal static FusedAdamCudaKernel<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>> CreateCuda(CudaPrimaryContext context, CudaStepState steps, GradientFormat format, bool withMaster) => format.Select(
        () => CreateCuda(context, steps),
        () => new FusedAdamCudaKernel<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>>(context, steps, withMaster ? KalmanAdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>.Kernel : KalmanAdamHalfKernels<BFloat16Format, DirectWeights<BFloat16Format>>.Kernel, Prepare, filtered: true, sizeof(ushort), withMaster),
        () => new FusedAdamCudaKernel<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>>(context, steps, withMaster ? KalmanAdamHalfKernels<Float16Format, MasterWeights<Float16Format>>.Kernel : KalmanAdamHalfKernels<Float16Format, DirectWeights<Float16Format>>.Kernel, Prepare, filtered: true, sizeof(ushort), withMaster));

    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop (see EmaKernels.Kernel); nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> x, ArrayView<float> p, ArrayView<float> m, ArrayView<float> v,
        ArrayView<FusedAdamConstants<KalmanConstants>> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        KalmanConstants f = step[0].Filter;
        AdamConstants c = step[0].Adam;
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            FilteredElement filtered = KalmanKernels.Element(g[i], x[i], f);
            x[i] = filtered.State;
            AdamElement e = AdamKernels.Element(filtered.Gradient, p[i], m[i], v[i], c);
            p[i] = e.Parameter;
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }

    /// <summary>
    /// The CUDA path's step on the device (see KalmanKernels.Prepare): unless <c>skip[0]</c> is set, the run's covariance
    /// advanced one step, the gain and Adam's constants into <c>step[0]</c>, and one more step counted for each parameter.
    /// </summary>
    internal static void Prepare(Index1D thread, ArrayView<int> skip, ArrayView<long> steps, ArrayView<float> covariances,
        ArrayView<FusedAdamConstants<KalmanConstants>> step, FusedAdamSettings<KalmanSettings> settings)
    {
        if (thread.X != 0 || skip[0] != 0) return;
        long before = steps[0];
        KalmanStep next = settings.Filter.Next(covariances[0]);
        step[0] = new FusedAdamConstants<KalmanConstants>(next.Constants, settings.Adam.At(before + 1));
        for (long i = 0; i < steps.Length; i++)
        {
            steps[i] = before + 1;
            covariances[i] = next.NextCovariance;
        }
    }

    /// <summary>The same step over <paramref name="count"/> contiguous elements, eight lanes at a time.</summary>
    internal static void StepRange(float* g, float* x, float* p, float* m, float* v, long count, KalmanConstants f, AdamConstants c)
    {
        var gain = new Vector<float>(f.Gain);
        var lamb = new Vector<float>(f.Lamb);
        var lanes = new AdamLanes(c);
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
            AdamKernels.StepLanes(KalmanKernels.FilterLanes(Vector.Load(g + i), x + i, gain, lamb), p + i, m + i, v + i, lanes);
        for (; i < count; i++)
        {
            FilteredElement filtered = KalmanKernels.Element(g[i], x[i], f);
            x[i] = filtered.State;
            AdamKernels.StepElement(filtered.Gradient, p + i, m + i, v + i, c);
        }
    }
}
