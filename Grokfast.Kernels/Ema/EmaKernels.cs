// EMA: ema = alpha*ema + (1-alpha)*g; g += lamb*ema, the average starting at the first gradient.
// Bytes per element: 16 (read g and ema, write g and ema).
// Versions, side by side: Kernel (ILGPU; the GPU path, checked on ILGPU's CPU accelerator in tests) and
// FilterRange (its twin: Vector<float>, split over cores by GradientStateCpuKernel; the fast CPU path).
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using ILGPU;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Ema;

/// <summary>The fused EMA pass: the ILGPU kernel, its vectorised CPU twin, and their runners.</summary>
public static unsafe class EmaKernels
{
    /// <summary>The vectorised, multi-threaded CPU pass over host memory.</summary>
    public static IGradientStateKernel<EmaConstants> CreateCpu() => new GradientStateCpuKernel<EmaConstants>(&FilterRange);

    /// <summary>The ILGPU kernel on <paramref name="accelerator"/>, compiled now.</summary>
    public static IGradientStateKernel<EmaConstants> CreateIlgpu(IlgpuAccelerator accelerator) =>
        new GradientStateIlgpuKernel<EmaConstants>(accelerator, Kernel);

    /// <summary>The ILGPU kernel on libtorch's CUDA device, compiled to PTX and loaded into its primary context now.</summary>
    public static IGradientStateKernel<EmaConstants> CreateCuda(CudaPrimaryContext context) =>
        new GradientStateCudaKernel<EmaConstants>(context, Kernel);

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
    /// so consecutive threads touch consecutive floats (coalesced) and any length fits one launch.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> ema, EmaConstants c)
    {
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            float gi = g[i];
            FilteredElement e = Element(gi, c.Initialize != 0 ? gi : ema[i], c);
            ema[i] = e.State;
            g[i] = e.Gradient;
        }
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
        {
            Vector<float> gv = Vector.Load(g + i);
            Vector<float> ev = initialize ? gv : Vector.Load(ema + i);
            ev = alpha * ev + oneMinusAlpha * gv;
            Vector.Store(ev, ema + i);
            Vector.Store(gv + lamb * ev, g + i);
        }
        for (; i < count; i++)
        {
            float gi = g[i];
            FilteredElement e = Element(gi, initialize ? gi : ema[i], c);
            ema[i] = e.State;
            g[i] = e.Gradient;
        }
    }
}
