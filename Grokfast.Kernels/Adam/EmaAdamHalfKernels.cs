// The EMA filter fused into Adam/AdamW for 16-bit parameters (bfloat16 or float16), float32 filter state and moments,
// through master weights or directly (TWeights: MasterWeights, DirectWeights).
// Bytes per element: master 36 (read g 2, ema, master, m, v 16; write ema, master, m, v 16, p 2); direct 30 (read g 2,
// ema 4, p 2, m 4, v 4; write ema 4, p 2, m 4, v 4).
// The ILGPU kernel (the GPU path), on the float32 element math of EmaKernels and AdamKernels, so a 16-bit step is the
// float32 step on widened inputs, rounded once. Its CPU twin is FusedAdamHalfCpuKernel, which runs the float32 twin on
// blocks of widened values.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;

namespace Grokfast.Kernels.Adam;

/// <summary>The EMA filter and Adam/AdamW on 16-bit parameters of format <typeparamref name="TFormat"/>, weights from <typeparamref name="TWeights"/>: the ILGPU kernel.</summary>
internal static class EmaAdamHalfKernels<TFormat, TWeights>
    where TFormat : struct, IHalfFormat
    where TWeights : struct, IHalfWeights<TFormat>
{
    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop; nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> ema, ArrayView<float> master, ArrayView<ushort> p,
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
            AdamElement e = AdamKernels.Element(filtered.Gradient, TWeights.Read(master, p, i), m[i], v[i], c);
            TWeights.Write(master, p, i, e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }
}
