// Adam/AdamW alone on 16-bit parameters (bfloat16 or float16) with float32 moments, through master weights or directly
// (TWeights: MasterWeights, DirectWeights).
// Bytes per element: master 28 (read g 2, master, m, v 12; write master, m, v 12, p 2); direct 22 (read g 2, p 2, m, v
// 8; write p 2, m, v 8).
// The ILGPU kernel (the GPU path; on AdamKernels' float32 element math). Its CPU twin is FusedAdamHalfCpuKernel, which
// runs the float32 twin on blocks of widened values.
using Grokfast.Kernels.HalfPrecision;
using ILGPU;

namespace Grokfast.Kernels.Adam;

/// <summary>Adam/AdamW on 16-bit parameters of format <typeparamref name="TFormat"/>, weights from <typeparamref name="TWeights"/>: the ILGPU kernel.</summary>
internal static class AdamHalfKernels<TFormat, TWeights>
    where TFormat : struct, IHalfFormat
    where TWeights : struct, IHalfWeights<TFormat>
{
    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop; nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> master, ArrayView<ushort> p,
        ArrayView<float> m, ArrayView<float> v, ArrayView<AdamConstants> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        AdamConstants c = step[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            AdamElement e = AdamKernels.Element(TFormat.Widen(g[i]), TWeights.Read(master, p, i), m[i], v[i], c);
            TWeights.Write(master, p, i, e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }
}
