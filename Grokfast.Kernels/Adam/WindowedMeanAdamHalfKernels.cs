// The windowed mean fused into Adam/AdamW for 16-bit parameters (bfloat16 or float16), through master weights or directly
// (TWeights: MasterWeights, DirectWeights): the ring holds the widened float32 gradients, the sums stay float64, the
// moments float32. The ILGPU kernel (the GPU path), on the float32 element math of WindowedMeanKernels and AdamKernels, so
// a 16-bit step is the float32 step on widened inputs, rounded once. Its CPU twin is FusedAdamHalfCpuKernel.
// Bytes per element: master 52 (read g 2, slot 4, sum 8, master, m, v 12; write slot, sum, master, m, v 24, p 2); direct 46.
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Kernels.WindowedMean;
using ILGPU;

namespace Grokfast.Kernels.Adam;

/// <summary>The windowed mean and Adam/AdamW on 16-bit parameters of format <typeparamref name="TFormat"/>, weights from <typeparamref name="TWeights"/>: the ILGPU kernel.</summary>
internal static class WindowedMeanAdamHalfKernels<TFormat, TWeights>
    where TFormat : struct, IHalfFormat
    where TWeights : struct, IHalfWeights<TFormat>
{
    /// <summary>
    /// Thread <paramref name="thread"/> of a grid-stride loop (see WindowedMeanAdamKernels.Kernel for the ring's layout);
    /// nothing moves when <c>skip[0]</c> is set.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> ring, ArrayView<double> sum,
        ArrayView<float> master, ArrayView<ushort> p, ArrayView<float> m, ArrayView<float> v,
        ArrayView<FusedAdamConstants<WindowedMeanConstants>> step, ArrayView<int> skip, long stride)
    {
        if (skip[0] != 0) return;
        WindowedMeanConstants f = step[0].Filter;
        AdamConstants c = step[0].Adam;
        ArrayView<float> slot = ring.SubView(f.Slot * stride, g.Length);
        long threads = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += threads)
        {
            float gi = TFormat.Widen(g[i]);
            WindowedMeanElement filtered = WindowedMeanKernels.Element(gi, slot[i], sum[i], f);
            slot[i] = gi;
            sum[i] = filtered.Sum;
            AdamElement e = AdamKernels.Element(f.Apply != 0 ? filtered.Gradient : gi, TWeights.Read(master, p, i), m[i], v[i], c);
            TWeights.Write(master, p, i, e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }
}
