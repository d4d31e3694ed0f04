// Adam/AdamW alone on 16-bit parameters (bfloat16 or float16) with float32 moments: with master weights the float32
// copy is updated exactly as a float32 parameter and the 16-bit parameter written rounded from it; without, the 16-bit
// parameter is widened, updated in float32 and rounded back (updates below half an ulp are then lost).
// Bytes per element: master 28 (read g 2, master, m, v 12; write master, m, v 12, p 2); direct 22 (read g 2, p 2, m, v
// 8; write p 2, m, v 8).
// The ILGPU kernels (the GPU path; on AdamKernels' float32 element math). Their CPU twin is FusedAdamHalfCpuKernel, which
// runs the float32 twin on blocks of widened values.
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Adam;

/// <summary>Adam/AdamW on 16-bit parameters of format <typeparamref name="TFormat"/>: ILGPU kernels.</summary>
internal static unsafe class AdamHalfKernels<TFormat>
    where TFormat : struct, IHalfFormat
{
    /// <summary>Bytes one step moves per parameter element with float32 master weights.</summary>
    public const int MasterBytesPerElement = 28;

    /// <summary>Bytes one step moves per parameter element updating the 16-bit parameters directly.</summary>
    public const int DirectBytesPerElement = 22;

    /// <summary>With master weights: thread <paramref name="thread"/> of a grid-stride loop; nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void MasterKernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> master, ArrayView<ushort> p,
        ArrayView<float> m, ArrayView<float> v, ArrayView<AdamConstants> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        AdamConstants c = step[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            AdamElement e = AdamKernels.Element(TFormat.Widen(g[i]), master[i], m[i], v[i], c);
            master[i] = e.Parameter;
            p[i] = TFormat.Narrow(e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }

    /// <summary>Without master weights: thread <paramref name="thread"/> of a grid-stride loop; nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void DirectKernel(Index1D thread, ArrayView<ushort> g, ArrayView<ushort> p,
        ArrayView<float> m, ArrayView<float> v, ArrayView<AdamConstants> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        AdamConstants c = step[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            AdamElement e = AdamKernels.Element(TFormat.Widen(g[i]), TFormat.Widen(p[i]), m[i], v[i], c);
            p[i] = TFormat.Narrow(e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }
}
