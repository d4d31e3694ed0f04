// Grokfast's windowed mean (MA) and Adam/AdamW in one pass: the slot and the float64 running sum move as in the filter
// (WindowedMeanKernels), and the filtered gradient — amplified once the step applies, raw before — goes straight into the
// Adam step without being written back (p.grad keeps the raw gradient).
// Bytes per element: 52 (read g 4, slot 4, sum 8, p, m, v 12; write slot 4, sum 8, p, m, v 12), against 32 + 28 for the
// two passes; independent of the window.
// Versions, side by side: Kernel (ILGPU) and StepRange (its vectorised twin), on the filter's and Adam's element math.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Kernels.WindowedMean;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Adam;

/// <summary>The windowed-mean filter fused into Adam/AdamW: the ILGPU kernel and its vectorised CPU twin.</summary>
internal static unsafe class WindowedMeanAdamKernels
{
    /// <summary>Bytes one step moves per parameter element.</summary>
    public const int BytesPerElement = 52;

    /// <summary>The pass and its prepare kernel on libtorch's CUDA device; the step counts live in <paramref name="steps"/>.</summary>
    internal static WindowedMeanAdamCudaKernel CreateCuda(CudaPrimaryContext context, CudaStepState steps) => new(context, steps);

    /// <summary>
    /// The pass for parameters and gradients of <paramref name="format"/> — float32, or 16-bit through float32 master weights
    /// (<paramref name="withMaster"/>) or directly — with the float32 pass's prepare kernel.
    /// </summary>
    internal static WindowedMeanAdamCudaKernel CreateCuda(CudaPrimaryContext context, CudaStepState steps, GradientFormat format, bool withMaster) => format.Select(
        () => CreateCuda(context, steps),
        () => new WindowedMeanAdamCudaKernel(context, steps, withMaster ? WindowedMeanAdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>.Kernel : WindowedMeanAdamHalfKernels<BFloat16Format, DirectWeights<BFloat16Format>>.Kernel, sizeof(ushort), withMaster),
        () => new WindowedMeanAdamCudaKernel(context, steps, withMaster ? WindowedMeanAdamHalfKernels<Float16Format, MasterWeights<Float16Format>>.Kernel : WindowedMeanAdamHalfKernels<Float16Format, DirectWeights<Float16Format>>.Kernel, sizeof(ushort), withMaster));

    /// <summary>
    /// Thread <paramref name="thread"/> of a grid-stride loop (see EmaKernels.Kernel); nothing moves when <c>skip[0]</c>
    /// is set. The ring view starts at the range's element in slot 0; element i of slot s is <c>ring[s * stride + i]</c>.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> ring, ArrayView<double> sum,
        ArrayView<float> p, ArrayView<float> m, ArrayView<float> v,
        ArrayView<FusedAdamConstants<WindowedMeanConstants>> step, ArrayView<int> skip, long stride)
    {
        if (skip[0] != 0) return;
        WindowedMeanConstants f = step[0].Filter;
        AdamConstants c = step[0].Adam;
        ArrayView<float> slot = ring.SubView(f.Slot * stride, g.Length);
        long threads = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += threads)
        {
            float gi = g[i];
            WindowedMeanElement filtered = WindowedMeanKernels.Element(gi, slot[i], sum[i], f);
            slot[i] = gi;
            sum[i] = filtered.Sum;
            AdamElement e = AdamKernels.Element(f.Apply != 0 ? filtered.Gradient : gi, p[i], m[i], v[i], c);
            p[i] = e.Parameter;
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }

    /// <summary>
    /// The CUDA path's step on the device (see WindowedMeanKernels.Prepare): unless <c>skip[0]</c> is set, the run's next
    /// slot, scale and whether it applies, with Adam's constants, into <c>step[0]</c>, and one more step counted per parameter.
    /// </summary>
    internal static void Prepare(Index1D thread, ArrayView<int> skip, ArrayView<long> steps, ArrayView<float> covariances,
        ArrayView<FusedAdamConstants<WindowedMeanConstants>> step, FusedAdamSettings<WindowedMeanSettings> settings)
    {
        if (thread.X != 0 || skip[0] != 0) return;
        long before = steps[0];
        step[0] = new FusedAdamConstants<WindowedMeanConstants>(settings.Filter.At(before), settings.Adam.At(before + 1));
        for (long i = 0; i < steps.Length; i++) steps[i] = before + 1;
    }

    /// <summary>The same step over <paramref name="count"/> contiguous elements, eight lanes at a time; <paramref name="slot"/> is this step's slot of the ring.</summary>
    internal static void StepRange(float* g, float* slot, double* sum, float* p, float* m, float* v, long count, WindowedMeanConstants f, AdamConstants c)
    {
        var scale = new Vector<double>(f.Scale);
        var lamb = new Vector<float>(f.Lamb);
        bool apply = f.Apply != 0;
        var lanes = new AdamLanes(c);
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
            AdamKernels.StepLanes(WindowedMeanKernels.FilterLanes(Vector.Load(g + i), slot + i, sum + i, scale, lamb, apply), p + i, m + i, v + i, lanes);
        for (; i < count; i++)
        {
            float gi = g[i];
            WindowedMeanElement filtered = WindowedMeanKernels.Element(gi, slot[i], sum[i], f);
            slot[i] = gi;
            sum[i] = filtered.Sum;
            AdamKernels.StepElement(apply ? filtered.Gradient : gi, p + i, m + i, v + i, c);
        }
    }
}
