// The EMA filter fused into Adam/AdamW for 16-bit parameters (bfloat16 or float16), float32 filter state and moments.
// With master weights the optimizer keeps a float32 copy of each parameter: the step updates the copy exactly as a
// float32 parameter and writes the 16-bit parameter rounded from it, so updates smaller than half an ulp of the 16-bit
// value still accumulate. Without, the 16-bit parameter is widened, updated in float32 and rounded back each step.
// Bytes per element: master 36 (read g 2, ema, master, m, v 16; write ema, master, m, v 16, p 2); direct 30 (read g 2,
// ema 4, p 2, m 4, v 4; write ema 4, p 2, m 4, v 4).
// The ILGPU kernels (the GPU path), on the float32 element math of EmaKernels and AdamKernels, so a 16-bit step is the
// float32 step on widened inputs, rounded once. Their CPU twin is FusedAdamHalfCpuKernel, which runs the float32 twin on
// blocks of widened values.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Adam;

/// <summary>The EMA filter and Adam/AdamW on 16-bit parameters of format <typeparamref name="TFormat"/>: ILGPU kernels.</summary>
internal static unsafe class EmaAdamHalfKernels<TFormat>
    where TFormat : struct, IHalfFormat
{
    /// <summary>Bytes one step moves per parameter element with float32 master weights.</summary>
    public const int MasterBytesPerElement = 36;

    /// <summary>Bytes one step moves per parameter element updating the 16-bit parameters directly.</summary>
    public const int DirectBytesPerElement = 30;

    /// <summary>With master weights: thread <paramref name="thread"/> of a grid-stride loop; nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void MasterKernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> ema, ArrayView<float> master, ArrayView<ushort> p,
        ArrayView<float> m, ArrayView<float> v, ArrayView<FusedAdamConstants<EmaConstants>> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        EmaConstants f = step[0].Filter;
        AdamConstants c = step[0].Adam;
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            float gi = TFormat.Widen(g[i]);
            FilteredElement filtered = EmaKernels.Element(gi, f.Initialize != 0 ? gi : ema[i], f);
            ema[i] = filtered.State;
            AdamElement e = AdamKernels.Element(filtered.Gradient, master[i], m[i], v[i], c);
            master[i] = e.Parameter;
            p[i] = TFormat.Narrow(e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }

    /// <summary>Without master weights: thread <paramref name="thread"/> of a grid-stride loop; nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void DirectKernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> ema, ArrayView<ushort> p,
        ArrayView<float> m, ArrayView<float> v, ArrayView<FusedAdamConstants<EmaConstants>> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        EmaConstants f = step[0].Filter;
        AdamConstants c = step[0].Adam;
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            float gi = TFormat.Widen(g[i]);
            FilteredElement filtered = EmaKernels.Element(gi, f.Initialize != 0 ? gi : ema[i], f);
            ema[i] = filtered.State;
            AdamElement e = AdamKernels.Element(filtered.Gradient, TFormat.Widen(p[i]), m[i], v[i], c);
            p[i] = TFormat.Narrow(e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }
}
