// EMA, CPU twin of EmaIlgpuKernel: the same math as a Vector<float> loop split over cores.
// Bytes per element: 16 (read g and ema, write g and ema). The fast CPU path.
using System.Numerics;
using Grokfast.Kernels.Backends;

namespace Grokfast.Kernels.Ema;

/// <summary>The hand-vectorised, multi-threaded C# EMA pass over host memory.</summary>
public sealed unsafe class EmaCpuKernel : IEmaKernel
{
    private float* gradients;
    private float* ema;
    private long length;

    /// <inheritdoc />
    public void Bind(nint gradients, nint ema, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = (float*)gradients;
        this.ema = (float*)ema;
        this.length = length;
    }

    /// <inheritdoc />
    public void Filter(long offset, long length, EmaConstants constants)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, this.length - offset);
        float* g = gradients + offset;
        float* e = ema + offset;
        CpuParallel.For(length, (start, count) => FilterRange(g + start, e + start, count, constants));
    }

    /// <summary>Filters <paramref name="count"/> contiguous elements in place.</summary>
    public static void FilterRange(float* g, float* e, long count, EmaConstants c)
    {
        var alpha = new Vector<float>(c.Alpha);
        var oneMinusAlpha = new Vector<float>(c.OneMinusAlpha);
        var lamb = new Vector<float>(c.Lamb);
        bool initialize = c.Initialize != 0;
        long i = 0;
        for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
        {
            Vector<float> gv = Vector.Load(g + i);
            Vector<float> ev = initialize ? gv : Vector.Load(e + i);
            ev = alpha * ev + oneMinusAlpha * gv;
            Vector.Store(ev, e + i);
            Vector.Store(gv + lamb * ev, g + i);
        }
        for (; i < count; i++)
        {
            float gi = g[i];
            float ei = initialize ? gi : e[i];
            ei = c.Alpha * ei + c.OneMinusAlpha * gi;
            e[i] = ei;
            g[i] = gi + c.Lamb * ei;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Owns no memory: the buffers belong to the caller.
    }
}
