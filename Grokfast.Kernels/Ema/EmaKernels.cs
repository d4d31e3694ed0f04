// EMA: ema = alpha*ema + (1-alpha)*g; g += lamb*ema, the average starting at the first gradient.
// Bytes per element: 16 (read g and ema, write g and ema).
// Versions, side by side: Kernel (ILGPU; the GPU path, checked on ILGPU's CPU accelerator in tests) and
// FilterRange (its twin: Vector<float>, split over cores by GradientStateCpuKernel; the fast CPU path).
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using ILGPU;
using System.Numerics;

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
    /// Thread <paramref name="thread"/> of a grid-stride loop: it visits elements thread, thread + stride, …
    /// so consecutive threads touch consecutive floats (coalesced) and any length fits one launch.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> ema, EmaConstants c)
    {
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            float gi = g[i];
            float ei = c.Initialize != 0 ? gi : ema[i];
            ei = c.Alpha * ei + c.OneMinusAlpha * gi;
            ema[i] = ei;
            g[i] = gi + c.Lamb * ei;
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
            float ei = initialize ? gi : ema[i];
            ei = c.Alpha * ei + c.OneMinusAlpha * gi;
            ema[i] = ei;
            g[i] = gi + c.Lamb * ei;
        }
    }
}
