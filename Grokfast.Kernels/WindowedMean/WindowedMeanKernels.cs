// Windowed mean (Grokfast-MA) with O(1) work per element: the slot this step writes holds the oldest
// gradient of the window (zeros while the window fills), so sum += g - slot; slot = g; and, when the step
// applies, g += lamb * sum * scale. The sum is float64 so it cannot drift (kernels.md).
// Bytes per element: 32 (read g 4, slot 4, sum 8; write slot 4, sum 8, g 4), independent of the window.
// Versions, side by side: Kernel (ILGPU; run by WindowedMeanIlgpuKernel) and FilterRange (its vectorised
// twin; run over cores by WindowedMeanCpuKernel). On CUDA, Prepare derives the slot and scale on the device.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.WindowedMean;

/// <summary>The fused windowed-mean pass: the ILGPU kernel and its vectorised CPU twin.</summary>
public static unsafe class WindowedMeanKernels
{
    /// <summary>Bytes one step moves per gradient element (read g, the slot and the float64 sum; write all three); what bandwidth figures count.</summary>
    public const int BytesPerElement = 32;

    /// <summary>The vectorised, multi-threaded CPU pass over host memory.</summary>
    public static IWindowedMeanKernel CreateCpu() => new WindowedMeanCpuKernel();

    /// <summary>The ILGPU kernel on <paramref name="accelerator"/>, compiled now.</summary>
    public static IWindowedMeanKernel CreateIlgpu(IlgpuAccelerator accelerator) => new WindowedMeanIlgpuKernel(accelerator);

    /// <summary>The ILGPU kernel and its prepare kernel on libtorch's CUDA device; the step counts live in <paramref name="steps"/>.</summary>
    public static WindowedMeanCudaKernel CreateCuda(CudaPrimaryContext context, CudaStepState steps) => new(context, steps);

    /// <summary>The CPU pass for gradients of <paramref name="format"/>: <see cref="CreateCpu()"/> or its 16-bit version.</summary>
    internal static IWindowedMeanKernel CreateCpu(GradientFormat format) =>
        format.Select(CreateCpu, WindowedMeanHalfKernels<BFloat16Format>.CreateCpu, WindowedMeanHalfKernels<Float16Format>.CreateCpu);

    /// <summary>The ILGPU kernel for gradients of <paramref name="format"/> on <paramref name="accelerator"/>.</summary>
    internal static IWindowedMeanKernel CreateIlgpu(IlgpuAccelerator accelerator, GradientFormat format) =>
        format.Select(() => CreateIlgpu(accelerator), () => WindowedMeanHalfKernels<BFloat16Format>.CreateIlgpu(accelerator), () => WindowedMeanHalfKernels<Float16Format>.CreateIlgpu(accelerator));

    /// <summary>The CUDA pass for gradients of <paramref name="format"/>, with the filter's prepare kernel.</summary>
    internal static WindowedMeanCudaKernel CreateCuda(CudaPrimaryContext context, CudaStepState steps, GradientFormat format) =>
        format.Select(() => CreateCuda(context, steps), () => WindowedMeanHalfKernels<BFloat16Format>.CreateCuda(context, steps), () => WindowedMeanHalfKernels<Float16Format>.CreateCuda(context, steps));

    /// <summary>
    /// One element's step, written once for every version (see EmaKernels.Element): the oldest gradient leaves the
    /// running sum, the new one joins it, and the amplified gradient is what the step writes when it applies.
    /// </summary>
    /// <param name="g">The raw gradient.</param>
    /// <param name="oldest">The ring slot's value: the gradient leaving the window (zero while it fills).</param>
    /// <param name="sum">The running sum before the step.</param>
    /// <param name="c">The step's constants.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static WindowedMeanElement Element(float g, float oldest, double sum, WindowedMeanConstants c)
    {
        double next = sum - oldest + g;
        return new WindowedMeanElement(g + c.Lamb * (float)(next * c.Scale), next);
    }

    /// <summary>
    /// Thread <paramref name="thread"/> of a grid-stride loop over the range (see EmaKernels.Kernel). The ring view
    /// starts at the range's element in slot 0; element i of slot s is <c>ring[s * stride + i]</c>.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> ring, ArrayView<double> sum,
        ArrayView<WindowedMeanConstants> step, ArrayView<int> skip, long stride)
    {
        if (skip[0] != 0) return;
        WindowedMeanConstants c = step[0];
        ArrayView<float> slot = ring.SubView(c.Slot * stride, g.Length);
        long threads = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += threads)
        {
            float gi = g[i];
            WindowedMeanElement e = Element(gi, slot[i], sum[i], c);
            slot[i] = gi;
            sum[i] = e.Sum;
            if (c.Apply != 0) g[i] = e.Gradient;
        }
    }

    /// <summary>
    /// The CUDA path's step on the device (see EmaKernels.Prepare): unless <c>skip[0]</c> is set, the run's next
    /// slot, scale and whether it applies into <c>step[0]</c>, and one more step counted for each of its parameters.
    /// </summary>
    internal static void Prepare(Index1D thread, ArrayView<int> skip, ArrayView<long> steps, ArrayView<float> covariances,
        ArrayView<WindowedMeanConstants> step, WindowedMeanSettings settings)
    {
        if (thread.X != 0 || skip[0] != 0) return;
        long before = steps[0];
        step[0] = settings.At(before);
        for (long p = 0; p < steps.Length; p++) steps[p] = before + 1;
    }

    /// <summary>The same pass over <paramref name="count"/> contiguous elements: eight float lanes, two halves of four double lanes.</summary>
    internal static void FilterRange(float* g, float* slot, double* sum, long count, WindowedMeanConstants c)
    {
        var scale = new Vector<double>(c.Scale);
        var lamb = new Vector<float>(c.Lamb);
        bool apply = c.Apply != 0;
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
        {
            Vector<float> filtered = FilterLanes(Vector.Load(g + i), slot + i, sum + i, scale, lamb, apply);
            if (apply) Vector.Store(filtered, g + i);
        }
        for (; i < count; i++)
        {
            float gi = g[i];
            WindowedMeanElement e = Element(gi, slot[i], sum[i], c);
            slot[i] = gi;
            sum[i] = e.Sum;
            if (apply) g[i] = e.Gradient;
        }
    }

    /// <summary>
    /// <see cref="Element"/> on one vector of gradients <paramref name="g"/> (two halves of double lanes for the sum):
    /// the window's slot and sum at the same lanes are updated, and the filtered gradient is returned — amplified when
    /// the step applies, <paramref name="g"/> itself when it only records. The filter's and the fused optimizer's twins share it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<float> FilterLanes(Vector<float> g, float* slot, double* sum, Vector<double> scale, Vector<float> lamb, bool apply)
    {
        int half = Vector<double>.Count;
        Vector.Widen(g, out Vector<double> gLow, out Vector<double> gHigh);
        Vector.Widen(Vector.Load(slot), out Vector<double> oldLow, out Vector<double> oldHigh);
        Vector<double> sumLow = Vector.Load(sum) - oldLow + gLow;
        Vector<double> sumHigh = Vector.Load(sum + half) - oldHigh + gHigh;
        Vector.Store(g, slot);
        Vector.Store(sumLow, sum);
        Vector.Store(sumHigh, sum + half);
        return apply ? g + lamb * Vector.Narrow(sumLow * scale, sumHigh * scale) : g;
    }
}
