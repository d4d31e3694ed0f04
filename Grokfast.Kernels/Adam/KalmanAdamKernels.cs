// Grokfast's Kalman filter and Adam/AdamW in one pass: per element the estimate x tracks the gradient, g + lamb·x goes
// straight into the Adam step and is not written back (p.grad keeps the raw gradient).
// Bytes per element: 36 (read g, x, p, m, v: 20; write x, p, m, v: 16), against 16 + 28 for the two passes.
// Versions, side by side: Kernel (ILGPU) and StepRange (its vectorised twin), on the filter's and Adam's element math.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Kalman;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Adam;

/// <summary>The Kalman filter fused into Adam/AdamW: the ILGPU kernel and its vectorised CPU twin.</summary>
internal static unsafe class KalmanAdamKernels
{
    /// <summary>Bytes one step moves per parameter element.</summary>
    public const int BytesPerElement = 36;

    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop (see EmaKernels.Kernel); nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> x, ArrayView<float> p, ArrayView<float> m, ArrayView<float> v,
        ArrayView<KalmanConstants> filterStep, ArrayView<AdamConstants> adamStep, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        KalmanConstants f = filterStep[0];
        AdamConstants c = adamStep[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            FilteredElement filtered = KalmanKernels.Element(g[i], x[i], f);
            x[i] = filtered.State;
            AdamElement e = AdamKernels.Element(filtered.Gradient, p[i], m[i], v[i], c);
            p[i] = e.Parameter;
            m[i] = e.FirstMoment;
            v[i] = e.SecondMoment;
        }
    }

    /// <summary>The same step over <paramref name="count"/> contiguous elements, eight lanes at a time.</summary>
    internal static void StepRange(float* g, float* x, float* p, float* m, float* v, long count, KalmanConstants f, AdamConstants c)
    {
        var gain = new Vector<float>(f.Gain);
        var lamb = new Vector<float>(f.Lamb);
        var lanes = new AdamLanes(c);
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
            AdamKernels.StepLanes(KalmanKernels.FilterLanes(Vector.Load(g + i), x + i, gain, lamb), p + i, m + i, v + i, lanes);
        for (; i < count; i++)
        {
            FilteredElement filtered = KalmanKernels.Element(g[i], x[i], f);
            x[i] = filtered.State;
            AdamKernels.StepElement(filtered.Gradient, p + i, m + i, v + i, c);
        }
    }
}
