// Adam/AdamW alone on 16-bit parameters (bfloat16 or float16) with float32 moments: with master weights the float32
// copy is updated exactly as a float32 parameter and the 16-bit parameter written rounded from it; without, the 16-bit
// parameter is widened, updated in float32 and rounded back (updates below half an ulp are then lost).
// Bytes per element: master 28 (read g 2, master, m, v 12; write master, m, v 12, p 2); direct 22 (read g 2, p 2, m, v
// 8; write p 2, m, v 8).
// Versions, side by side: the ILGPU kernels and their vectorised twins, on AdamKernels' float32 element math.
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Adam;

/// <summary>Adam/AdamW on 16-bit parameters of format <typeparamref name="TFormat"/>: ILGPU kernels and vectorised twins.</summary>
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

    /// <summary>With master weights, over <paramref name="count"/> contiguous elements, two vectors of float lanes at a time.</summary>
    internal static void MasterStepRange(ushort* g, float* master, ushort* p, float* m, float* v, long count, AdamConstants c)
    {
        var lanes = new AdamLanes(c);
        int width = Vector<float>.Count;
        long i = 0;
        for (; i <= count - 2 * width; i += 2 * width)
        {
            (Vector<float> low, Vector<float> high) = TFormat.WidenLanes(g + i);
            AdamKernels.StepLanes(low, master + i, m + i, v + i, lanes);
            AdamKernels.StepLanes(high, master + i + width, m + i + width, v + i + width, lanes);
            TFormat.NarrowLanes(Vector.Load(master + i), Vector.Load(master + i + width), p + i);
        }
        for (; i < count; i++)
        {
            AdamKernels.StepElement(TFormat.Widen(g[i]), master + i, m + i, v + i, c);
            p[i] = TFormat.Narrow(master[i]);
        }
    }

    /// <summary>Without master weights, over <paramref name="count"/> contiguous elements, two vectors of float lanes at a time.</summary>
    internal static void DirectStepRange(ushort* g, ushort* p, float* m, float* v, long count, AdamConstants c)
    {
        var lanes = new AdamLanes(c);
        int width = Vector<float>.Count;
        // StepLanes updates parameters in memory: the widened ones go to two vectors on the stack, not to a copy of the buffer.
        float* wide = stackalloc float[2 * width];
        long i = 0;
        for (; i <= count - 2 * width; i += 2 * width)
        {
            (Vector<float> low, Vector<float> high) = TFormat.WidenLanes(g + i);
            (Vector<float> pLow, Vector<float> pHigh) = TFormat.WidenLanes(p + i);
            Vector.Store(pLow, wide);
            Vector.Store(pHigh, wide + width);
            AdamKernels.StepLanes(low, wide, m + i, v + i, lanes);
            AdamKernels.StepLanes(high, wide + width, m + i + width, v + i + width, lanes);
            TFormat.NarrowLanes(Vector.Load(wide), Vector.Load(wide + width), p + i);
        }
        for (; i < count; i++)
        {
            AdamElement e = AdamKernels.Element(TFormat.Widen(g[i]), TFormat.Widen(p[i]), m[i], v[i], c);
            p[i] = TFormat.Narrow(e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }
}
