// The Kalman filter on 16-bit gradients (bfloat16 or float16) with float32 estimates: per element the gradient is
// widened (exact), filtered exactly as a float32 gradient (KalmanKernels.Element / FilterLanes), and written back
// rounded to nearest even. Bytes per element: 12 (read g 2, x 4; write x 4, g 2), against 16 for float32 gradients.
// Versions, side by side: Kernel (ILGPU) and FilterRange (its vectorised twin).
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;

namespace Grokfast.Kernels.Kalman;

/// <summary>The Kalman filter on 16-bit gradients of format <typeparamref name="TFormat"/>, float32 estimates: the ILGPU kernel and its vectorised CPU twin.</summary>
internal static unsafe class KalmanHalfKernels<TFormat>
    where TFormat : struct, IHalfFormat
{
    /// <summary>Bytes one step moves per gradient element.</summary>
    public const int BytesPerElement = 12;

    /// <summary>The vectorised twin run over the cores.</summary>
    internal static IGradientStateKernel<KalmanConstants> CreateCpu() => new GradientStateCpuRunner<ushort, float, KalmanConstants>(&FilterRange);

    /// <summary>The ILGPU kernel on <paramref name="accelerator"/>, compiled now.</summary>
    internal static IGradientStateKernel<KalmanConstants> CreateIlgpu(IlgpuAccelerator accelerator) =>
        new GradientStateIlgpuRunner<ushort, KalmanConstants>(accelerator, Kernel);

    /// <summary>The ILGPU kernel and the float32 filter's prepare kernel on libtorch's CUDA device (see KalmanKernels.CreateCuda).</summary>
    internal static GradientStateCudaKernel<KalmanConstants, KalmanSettings> CreateCuda(CudaPrimaryContext context, CudaStepState steps) =>
        new(context, steps, (Action<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<KalmanConstants>, ArrayView<int>>)Kernel, sizeof(ushort), KalmanKernels.Prepare);

    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop (see EmaKernels.Kernel); nothing moves when <c>skip[0]</c> is set.</summary>
    internal static void Kernel(Index1D thread, ArrayView<ushort> g, ArrayView<float> x, ArrayView<KalmanConstants> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        KalmanConstants c = step[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            FilteredElement e = KalmanKernels.Element(TFormat.Widen(g[i]), x[i], c);
            x[i] = e.State;
            g[i] = TFormat.Narrow(e.Gradient);
        }
    }

    /// <summary>The same pass over <paramref name="count"/> contiguous elements, two vectors of float lanes at a time.</summary>
    internal static void FilterRange(ushort* g, float* x, long count, KalmanConstants c)
    {
        var gain = new Vector<float>(c.Gain);
        var lamb = new Vector<float>(c.Lamb);
        int lanes = Vector<float>.Count;
        long i = 0;
        for (; i <= count - 2 * lanes; i += 2 * lanes)
        {
            (Vector<float> low, Vector<float> high) = TFormat.WidenLanes(g + i);
            TFormat.NarrowLanes(KalmanKernels.FilterLanes(low, x + i, gain, lamb), KalmanKernels.FilterLanes(high, x + i + lanes, gain, lamb), g + i);
        }
        for (; i < count; i++)
        {
            FilteredElement e = KalmanKernels.Element(TFormat.Widen(g[i]), x[i], c);
            x[i] = e.State;
            g[i] = TFormat.Narrow(e.Gradient);
        }
    }
}
