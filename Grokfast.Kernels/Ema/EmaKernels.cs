// EMA: ema = alpha*ema + (1-alpha)*g; g += lamb*ema, the average starting at the first gradient.
// Bytes per element: 16 (read g and ema, write g and ema).
// Versions, side by side: Kernel (ILGPU; the GPU path, checked on ILGPU's CPU accelerator in tests) and
// FilterRange (its twin: Vector<float>, split over cores by GradientStateCpuKernel; the fast CPU path).
// On CUDA the step's constants never leave the device: Prepare derives them there from the step count.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Ema;

/// <summary>The fused EMA pass: the ILGPU kernel, its vectorised CPU twin, and their runners.</summary>
public static unsafe class EmaKernels
{
    /// <summary>Bytes one step moves per gradient element (read g and ema, write g and ema); what bandwidth figures count.</summary>
    public const int BytesPerElement = 16;

    /// <summary>The vectorised, multi-threaded CPU pass over host memory.</summary>
    public static IGradientStateKernel<EmaConstants> CreateCpu() => new GradientStateCpuKernel<EmaConstants>(&FilterRange);

    /// <summary>The ILGPU kernel on <paramref name="accelerator"/>, compiled now.</summary>
    public static IGradientStateKernel<EmaConstants> CreateIlgpu(IlgpuAccelerator accelerator) =>
        new GradientStateIlgpuKernel<EmaConstants>(accelerator, Kernel);

    /// <summary>
    /// The ILGPU kernel and its prepare kernel on libtorch's CUDA device, compiled to PTX and loaded into its primary
    /// context now; the step counts they read and advance live in <paramref name="steps"/>.
    /// </summary>
    public static GradientStateCudaKernel<EmaConstants, EmaSettings> CreateCuda(CudaPrimaryContext context, CudaStepState steps) =>
        new(context, steps, Kernel, Prepare);

    /// <summary>The CPU pass for gradients of <paramref name="format"/>: <see cref="CreateCpu()"/> or its 16-bit version.</summary>
    internal static IGradientStateKernel<EmaConstants> CreateCpu(GradientFormat format) =>
        format.Select(CreateCpu, EmaHalfKernels<BFloat16Format>.CreateCpu, EmaHalfKernels<Float16Format>.CreateCpu);

    /// <summary>The ILGPU kernel for gradients of <paramref name="format"/> on <paramref name="accelerator"/>.</summary>
    internal static IGradientStateKernel<EmaConstants> CreateIlgpu(IlgpuAccelerator accelerator, GradientFormat format) =>
        format.Select(() => CreateIlgpu(accelerator), () => EmaHalfKernels<BFloat16Format>.CreateIlgpu(accelerator), () => EmaHalfKernels<Float16Format>.CreateIlgpu(accelerator));

    /// <summary>The CUDA pass for gradients of <paramref name="format"/>, with the filter's prepare kernel.</summary>
    internal static GradientStateCudaKernel<EmaConstants, EmaSettings> CreateCuda(CudaPrimaryContext context, CudaStepState steps, GradientFormat format) =>
        format.Select(() => CreateCuda(context, steps), () => EmaHalfKernels<BFloat16Format>.CreateCuda(context, steps), () => EmaHalfKernels<Float16Format>.CreateCuda(context, steps));

    /// <summary>
    /// One element's step, written once for every version: the ILGPU kernel and the twin's scalar tail call it,
    /// and the twin's vector body performs the same operations in the same order. Each product and sum rounds on
    /// its own, as in the reference's separate tensor operations (no fused multiply-add; see PtxRounding).
    /// </summary>
    /// <param name="g">The raw gradient.</param>
    /// <param name="average">The average before the step (the gradient itself on the first step).</param>
    /// <param name="c">The step's constants.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static FilteredElement Element(float g, float average, EmaConstants c)
    {
        float next = c.Alpha * average + c.OneMinusAlpha * g;
        return new FilteredElement(g + c.Lamb * next, next);
    }

    /// <summary>
    /// Thread <paramref name="thread"/> of a grid-stride loop: it visits elements thread, thread + stride, …
    /// so consecutive threads touch consecutive floats (coalesced) and any length fits one launch. The step's
    /// constants are <c>step[0]</c>; when <c>skip[0]</c> is set (a non-finite gradient) nothing is touched.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> ema, ArrayView<EmaConstants> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        EmaConstants c = step[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            float gi = g[i];
            FilteredElement e = Element(gi, c.Initialize != 0 ? gi : ema[i], c);
            ema[i] = e.State;
            g[i] = e.Gradient;
        }
    }

    /// <summary>
    /// The CUDA path's step on the device, one thread before <see cref="Kernel"/>: unless <c>skip[0]</c> is set, the
    /// constants of the run's next step into <c>step[0]</c> and one more step counted for each of its parameters.
    /// </summary>
    internal static void Prepare(Index1D thread, ArrayView<int> skip, ArrayView<long> steps, ArrayView<float> covariances, ArrayView<EmaConstants> step, EmaSettings settings)
    {
        if (thread.X != 0 || skip[0] != 0) return;
        long before = steps[0];
        step[0] = settings.At(before);
        for (long p = 0; p < steps.Length; p++) steps[p] = before + 1;
    }

    /// <summary>
    /// <see cref="Element"/> on eight lanes: stores the new average at <paramref name="ema"/> and returns the filtered
    /// gradients — the vector bodies of this twin and of the fused EMA-and-Adam twin.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<float> FilterLanes(Vector<float> g, float* ema, Vector<float> alpha, Vector<float> oneMinusAlpha, Vector<float> lamb, bool initialize)
    {
        Vector<float> average = alpha * (initialize ? g : Vector.Load(ema)) + oneMinusAlpha * g;
        Vector.Store(average, ema);
        return g + lamb * average;
    }

    /// <summary>The same pass over <paramref name="count"/> contiguous elements, eight lanes at a time.</summary>
    internal static void FilterRange(float* g, float* ema, long count, EmaConstants c)
    {
        var alpha = new Vector<float>(c.Alpha);
        var oneMinusAlpha = new Vector<float>(c.OneMinusAlpha);
        var lamb = new Vector<float>(c.Lamb);
        bool initialize = c.Initialize != 0;
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
            Vector.Store(FilterLanes(Vector.Load(g + i), ema + i, alpha, oneMinusAlpha, lamb, initialize), g + i);
        for (; i < count; i++)
        {
            float gi = g[i];
            FilteredElement e = Element(gi, initialize ? gi : ema[i], c);
            ema[i] = e.State;
            g[i] = e.Gradient;
        }
    }
}
