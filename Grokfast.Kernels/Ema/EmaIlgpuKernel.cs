// EMA, ILGPU kernel (the GPU path; runs on ILGPU's CPU accelerator in tests).
// ema = alpha*ema + (1-alpha)*g; g += lamb*ema. Bytes per element: 16 (read g, ema; write g, ema).
// Launch: one grid-stride launch over the whole flat buffer, 64-bit element indices.
// Twin: EmaCpuKernel (same math, vectorised C#).
using Grokfast.Kernels.Backends;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Kernels.Ema;

/// <summary>The fused EMA pass as an ILGPU kernel, compiled once and launched once per step.</summary>
public sealed class EmaIlgpuKernel : IEmaKernel
{
    private readonly IlgpuAccelerator accelerator;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, EmaConstants> launch;
    private MemoryBuffer? gradients;
    private MemoryBuffer? ema;

    /// <summary>Compiles the kernel for <paramref name="accelerator"/>; the accelerator stays the caller's.</summary>
    public EmaIlgpuKernel(IlgpuAccelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        this.accelerator = accelerator;
        launch = accelerator.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, EmaConstants>(Kernel);
    }

    /// <summary>
    /// Thread <paramref name="thread"/> of a grid-stride loop: it visits elements thread, thread + stride, …
    /// so consecutive threads touch consecutive floats (coalesced) and any length fits one launch.
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<float> g, ArrayView<float> e, EmaConstants c)
    {
        long stride = Grid.DimX * Group.DimX;
        for (long i = thread.X; i < g.Length; i += stride)
        {
            float gi = g[i];
            float ei = c.Initialize != 0 ? gi : e[i];
            ei = c.Alpha * ei + c.OneMinusAlpha * gi;
            e[i] = ei;
            g[i] = gi + c.Lamb * ei;
        }
    }

    /// <inheritdoc />
    public void Bind(nint gradients, nint ema, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ReleaseViews();
        this.gradients = accelerator.WrapFloats(gradients, length);
        this.ema = accelerator.WrapFloats(ema, length);
    }

    /// <inheritdoc />
    public void Filter(long offset, long length, EmaConstants constants)
    {
        if (gradients is null || ema is null) throw new InvalidOperationException("Bind the buffers before the first step.");
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, gradients.Length - offset);
        if (length == 0) return;
        launch(accelerator.GridStrideThreads(length),
            gradients.AsArrayView<float>(offset, length), ema.AsArrayView<float>(offset, length), constants);
        accelerator.Accelerator.Synchronize();
    }

    private void ReleaseViews()
    {
        gradients?.Dispose();
        ema?.Dispose();
        gradients = ema = null;
    }

    /// <inheritdoc />
    public void Dispose() => ReleaseViews();
}
