// The Kalman filter fused into Adam/AdamW for 16-bit parameters (bfloat16 or float16), float32 estimates and moments,
// through master weights or directly (TWeights: MasterWeights, DirectWeights): the ILGPU kernel (the GPU path), on the
// float32 element math of KalmanKernels and AdamKernels, so a 16-bit step is the float32 step on widened inputs, rounded
// once. Its CPU twin is FusedAdamHalfCpuKernel.
// Bytes per element: master 36 (read g 2, x, master, m, v 16; write x, master, m, v 16, p 2); direct 30.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Kernels.Kalman;
using ILGPU;

namespace Grokfast.Kernels.Adam;

/// <summary>The Kalman filter and Adam/AdamW on 16-bit parameters of format <typeparamref name="TFormat"/>, weights from <typeparamref name="TWeights"/>: the ILGPU kernel.</summary>
internal static class KalmanAdamHalfKernels<TFormat, TWeights>
    where TFormat : struct, IHalfFormat
    where TWeights : struct, IHalfWeights<TFormat>
{
    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop; nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> x, ArrayView<float> master, ArrayView<ushort> p,
        ArrayView<float> m, ArrayView<float> v, ArrayView<FusedAdamConstants<KalmanConstants>> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        KalmanConstants f = step[0].Filter;
        AdamConstants c = step[0].Adam;
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            FilteredElement filtered = KalmanKernels.Element(TFormat.Widen(g[i]), x[i], f);
            x[i] = filtered.State;
            AdamElement e = AdamKernels.Element(filtered.Gradient, TWeights.Read(master, p, i), m[i], v[i], c);
            TWeights.Write(master, p, i, e.Parameter);
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }
}
