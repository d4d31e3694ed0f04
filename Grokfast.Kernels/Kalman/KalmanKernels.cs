// Scalar-gain Kalman: x += K*(g - x); g += lamb*x, with the gain K computed once per step on the host
// (KalmanConstants) and x starting at zero. Bytes per element: 16 (read g and x, write g and x).
// Versions, side by side: Kernel (ILGPU; the GPU path, checked on ILGPU's CPU accelerator in tests) and
// FilterRange (its twin: Vector<float>, split over cores by GradientStateCpuKernel; the fast CPU path).
// On CUDA the covariance and the gain never leave the device: Prepare advances them there.
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.HalfPrecision;
using ILGPU;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Kalman;

/// <summary>The fused Kalman pass: the ILGPU kernel, its vectorised CPU twin, and their runners.</summary>
public static unsafe class KalmanKernels
{
    /// <summary>Bytes one step moves per gradient element (read g and x, write g and x); what bandwidth figures count.</summary>
    public const int BytesPerElement = 16;

    /// <summary>The vectorised, multi-threaded CPU pass over host memory.</summary>
    public static IGradientStateKernel<KalmanConstants> CreateCpu() => new GradientStateCpuKernel<KalmanConstants>(&FilterRange);

    /// <summary>The ILGPU kernel on <paramref name="accelerator"/>, compiled now.</summary>
    public static IGradientStateKernel<KalmanConstants> CreateIlgpu(IlgpuAccelerator accelerator) =>
        new GradientStateIlgpuKernel<KalmanConstants>(accelerator, Kernel);

    /// <summary>
    /// The ILGPU kernel and its prepare kernel on libtorch's CUDA device, compiled to PTX and loaded into its primary
    /// context now; the step counts they read and advance live in <paramref name="steps"/>.
    /// </summary>
    public static GradientStateCudaKernel<KalmanConstants, KalmanSettings> CreateCuda(CudaPrimaryContext context, CudaStepState steps) =>
        new(context, steps, Kernel, Prepare);

    /// <summary>The CPU pass for gradients of <paramref name="format"/>: <see cref="CreateCpu()"/> or its 16-bit version.</summary>
    internal static IGradientStateKernel<KalmanConstants> CreateCpu(GradientFormat format) =>
        format.Select(CreateCpu, KalmanHalfKernels<BFloat16Format>.CreateCpu, KalmanHalfKernels<Float16Format>.CreateCpu);

    /// <summary>The ILGPU kernel for gradients of <paramref name="format"/> on <paramref name="accelerator"/>.</summary>
    internal static IGradientStateKernel<KalmanConstants> CreateIlgpu(IlgpuAccelerator accelerator, GradientFormat format) =>
        format.Select(() => CreateIlgpu(accelerator), () => KalmanHalfKernels<BFloat16Format>.CreateIlgpu(accelerator), () => KalmanHalfKernels<Float16Format>.CreateIlgpu(accelerator));

    /// <summary>The CUDA pass for gradients of <paramref name="format"/>, with the filter's prepare kernel.</summary>
    internal static GradientStateCudaKernel<KalmanConstants, KalmanSettings> CreateCuda(CudaPrimaryContext context, CudaStepState steps, GradientFormat format) =>
        format.Select(() => CreateCuda(context, steps), () => KalmanHalfKernels<BFloat16Format>.CreateCuda(context, steps), () => KalmanHalfKernels<Float16Format>.CreateCuda(context, steps));

    /// <summary>
    /// One element's step, written once for every version (see EmaKernels.Element): the kernel and the twin's
    /// scalar tail call it, the vector body performs the same operations in the same order.
    /// </summary>
    /// <param name="g">The raw gradient.</param>
    /// <param name="estimate">The estimate x before the step.</param>
    /// <param name="c">The step's constants.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static FilteredElement Element(float g, float estimate, KalmanConstants c)
    {
        float next = estimate + c.Gain * (g - estimate);
        return new FilteredElement(g + c.Lamb * next, next);
    }

    /// <summary>Thread <paramref name="thread"/> of a grid-stride loop (see EmaKernels.Kernel).</summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> x, ArrayView<KalmanConstants> step, ArrayView<int> skip)
    {
        if (skip[0] != 0) return;
        KalmanConstants c = step[0];
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            FilteredElement e = Element(g[i], x[i], c);
            x[i] = e.State;
            g[i] = e.Gradient;
        }
    }

    /// <summary>
    /// The CUDA path's step on the device (see EmaKernels.Prepare): unless <c>skip[0]</c> is set, the run's covariance
    /// advanced one step, its gain into <c>step[0]</c>, and one more step counted for each of its parameters.
    /// </summary>
    internal static void Prepare(Index1D thread, ArrayView<int> skip, ArrayView<long> steps, ArrayView<float> covariances, ArrayView<KalmanConstants> step, KalmanSettings settings)
    {
        if (thread.X != 0 || skip[0] != 0) return;
        long before = steps[0];
        KalmanStep next = settings.Next(covariances[0]);
        step[0] = next.Constants;
        for (long p = 0; p < steps.Length; p++)
        {
            steps[p] = before + 1;
            covariances[p] = next.NextCovariance;
        }
    }

    /// <summary>
    /// <see cref="Element"/> on eight lanes: stores the new estimates at <paramref name="x"/> and returns the filtered
    /// gradients — the vector bodies of this twin and of the fused Kalman-and-Adam twin.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<float> FilterLanes(Vector<float> g, float* x, Vector<float> gain, Vector<float> lamb)
    {
        Vector<float> estimate = Vector.Load(x);
        estimate += gain * (g - estimate);
        Vector.Store(estimate, x);
        return g + lamb * estimate;
    }

    /// <summary>The same pass over <paramref name="count"/> contiguous elements, eight lanes at a time.</summary>
    internal static void FilterRange(float* g, float* x, long count, KalmanConstants c)
    {
        var gain = new Vector<float>(c.Gain);
        var lamb = new Vector<float>(c.Lamb);
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
            Vector.Store(FilterLanes(Vector.Load(g + i), x + i, gain, lamb), g + i);
        for (; i < count; i++)
        {
            FilteredElement e = Element(g[i], x[i], c);
            x[i] = e.State;
            g[i] = e.Gradient;
        }
    }
}
