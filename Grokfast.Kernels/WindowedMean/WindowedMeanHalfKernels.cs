// The windowed mean on 16-bit gradients (bfloat16 or float16): the ring holds the widened (exact) float32 gradients and
// the running sum stays float64, so the window's arithmetic is the float32 filter's (WindowedMeanKernels.Element /
// FilterLanes); the gradient is written back rounded to nearest even when the step applies.
// Bytes per element: 28 (read g 2, slot 4, sum 8; write slot 4, sum 8, g 2), against 32 for float32 gradients.
// Versions, side by side: Kernel (ILGPU) and FilterRange (its vectorised twin).
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>The windowed mean on 16-bit gradients of format <typeparamref name="TFormat"/>, float32 ring and float64 sums: the ILGPU kernel and its vectorised CPU twin.</summary>
internal static unsafe class WindowedMeanHalfKernels<TFormat>
    where TFormat : struct, IHalfFormat
{
    /// <summary>Bytes one step moves per gradient element.</summary>
    public const int BytesPerElement = 28;

    /// <summary>The vectorised twin run over the cores.</summary>
    internal static IWindowedMeanKernel CreateCpu() => new WindowedMeanCpuRunner<ushort>(&FilterRange);

    /// <summary>The ILGPU kernel on <paramref name="accelerator"/>, compiled now.</summary>
    internal static IWindowedMeanKernel CreateIlgpu(IlgpuAccelerator accelerator) => new WindowedMeanIlgpuRunner<ushort>(accelerator, Kernel);

    /// <summary>The ILGPU kernel and the float32 filter's prepare kernel on libtorch's CUDA device.</summary>
    internal static WindowedMeanCudaKernel CreateCuda(CudaPrimaryContext context, CudaStepState steps) =>
        new(context, steps, (Action<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<double>, ArrayView<WindowedMeanConstants>, ArrayView<int>, long>)Kernel, sizeof(ushort));

    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop over the range (see WindowedMeanKernels.Kernel for the ring's layout).</summary>
    internal static void Kernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> ring, ArrayView<double> sum,
        ArrayView<WindowedMeanConstants> step, ArrayView<int> skip, long stride)
    {
        if (skip[0] != 0) return;
        WindowedMeanConstants c = step[0];
        ArrayView<float> slot = ring.SubView(c.Slot * stride, g.Length);
        long threads = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += threads)
        {
            float gi = TFormat.Widen(g[i]);
            WindowedMeanElement e = WindowedMeanKernels.Element(gi, slot[i], sum[i], c);
            slot[i] = gi;
            sum[i] = e.Sum;
            if (c.Apply != 0) g[i] = TFormat.Narrow(e.Gradient);
        }
    }

    /// <summary>The same pass over <paramref name="count"/> contiguous elements; <paramref name="slot"/> is this step's slot of the ring.</summary>
    internal static void FilterRange(ushort* g, float* slot, double* sum, long count, WindowedMeanConstants c)
    {
        var scale = new Vector<double>(c.Scale);
        var lamb = new Vector<float>(c.Lamb);
        bool apply = c.Apply != 0;
        int lanes = Vector<float>.Count;
        long i = 0;
        for (; i <= count - 2 * lanes; i += 2 * lanes)
        {
            (Vector<float> low, Vector<float> high) = TFormat.WidenLanes(g + i);
            Vector<float> filteredLow = WindowedMeanKernels.FilterLanes(low, slot + i, sum + i, scale, lamb, apply);
            Vector<float> filteredHigh = WindowedMeanKernels.FilterLanes(high, slot + i + lanes, sum + i + lanes, scale, lamb, apply);
            if (apply) TFormat.NarrowLanes(filteredLow, filteredHigh, g + i);
        }
        for (; i < count; i++)
        {
            float gi = TFormat.Widen(g[i]);
            WindowedMeanElement e = WindowedMeanKernels.Element(gi, slot[i], sum[i], c);
            slot[i] = gi;
            sum[i] = e.Sum;
            if (apply) g[i] = TFormat.Narrow(e.Gradient);
        }
    }
}
