// The EMA filter on 16-bit gradients (bfloat16 or float16) with a float32 average: per element the gradient is widened
// (exact), filtered exactly as a float32 gradient (EmaKernels.Element / FilterLanes), and written back rounded to
// nearest even. Bytes per element: 12 (read g 2, ema 4; write ema 4, g 2), against 16 for float32 gradients.
// Versions, side by side: Kernel (ILGPU) and FilterRange (its vectorised twin, 16 gradients a step on AVX2).
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Ema;

/// <summary>The EMA filter on 16-bit gradients of format <typeparamref name="TFormat"/>, float32 state: the ILGPU kernel and its vectorised CPU twin.</summary>
internal static unsafe class EmaHalfKernels<TFormat>
    where TFormat : struct, IHalfFormat
{
    /// <summary>Bytes one step moves per gradient element.</summary>
    public const int BytesPerElement = 12;

    /// <summary>The vectorised twin run over the cores.</summary>
    internal static IGradientStateKernel<EmaConstants> CreateCpu() => new GradientStateCpuRunner<ushort, float, EmaConstants>(&FilterRange);

    /// <summary>The ILGPU kernel on <paramref name="accelerator"/>, compiled now.</summary>
    internal static IGradientStateKernel<EmaConstants> CreateIlgpu(IlgpuAccelerator accelerator) =>
        new GradientStateIlgpuRunner<ushort, EmaConstants>(accelerator, Kernel);

    /// <summary>The ILGPU kernel and the float32 filter's prepare kernel on libtorch's CUDA device (see EmaKernels.CreateCuda).</summary>
    internal static GradientStateCudaKernel<EmaConstants, EmaSettings> CreateCuda(CudaPrimaryContext context, CudaStepState steps) =>
        new(context, steps, (Action<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<EmaConstants>, ArrayView<int>>)Kernel, sizeof(ushort), EmaKernels.Prepare);

    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop (see EmaKernels.Kernel); nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> ema, ArrayView<EmaConstants> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        EmaConstants c = step[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            float gi = TFormat.Widen(g[i]);
            FilteredElement e = EmaKernels.Element(gi, c.Initialize != 0 ? gi : ema[i], c);
            ema[i] = e.State;
            g[i] = TFormat.Narrow(e.Gradient);
        }
    }

    /// <summary>The same pass over <paramref name="count"/> contiguous elements, two vectors of float lanes at a time.</summary>
    internal static void FilterRange(ushort* g, float* ema, long count, EmaConstants c)
    {
        var alpha = new Vector<float>(c.Alpha);
        var oneMinusAlpha = new Vector<float>(c.OneMinusAlpha);
        var lamb = new Vector<float>(c.Lamb);
        bool initialize = c.Initialize != 0;
        int lanes = Vector<float>.Count;
        long i = 0;
        for (; i <= count - 2 * lanes; i += 2 * lanes)
        {
            (Vector<float> low, Vector<float> high) = TFormat.WidenLanes(g + i);
            TFormat.NarrowLanes(
                EmaKernels.FilterLanes(low, ema + i, alpha, oneMinusAlpha, lamb, initialize),
                EmaKernels.FilterLanes(high, ema + i + lanes, alpha, oneMinusAlpha, lamb, initialize), g + i);
        }
        for (; i < count; i++)
        {
            float gi = TFormat.Widen(g[i]);
            FilteredElement e = EmaKernels.Element(gi, initialize ? gi : ema[i], c);
            ema[i] = e.State;
            g[i] = TFormat.Narrow(e.Gradient);
        }
    }
}
