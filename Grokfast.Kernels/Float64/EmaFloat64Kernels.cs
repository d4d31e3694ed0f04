// The EMA filter on float64 gradients with a float64 average, all in double, as the reference computes on float64
// tensors with Python-float hyperparameters: ema = alpha*ema + (1-alpha)*g; g += lamb*ema.
// Bytes per element: 32 (read g and ema, write both, 8 bytes each). The CPU twin only: float64 has no GPU path.
using Grokfast.Kernels.Backends;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Float64;

/// <summary>The EMA filter's per-step scalars for float64 gradients, in double.</summary>
/// <param name="Alpha">Momentum of the average.</param>
/// <param name="OneMinusAlpha">1 − alpha, in double.</param>
/// <param name="Lamb">Amplification.</param>
/// <param name="Initialize">1 on the first step: the average starts at the first gradient.</param>
internal readonly record struct EmaFloat64Constants(double Alpha, double OneMinusAlpha, double Lamb, int Initialize)
{
    /// <summary>The constants of the step taken after <paramref name="stepsBefore"/> earlier ones.</summary>
    public static EmaFloat64Constants At(double alpha, double lamb, long stepsBefore) => new(alpha, 1.0 - alpha, lamb, stepsBefore == 0 ? 1 : 0);
}

/// <summary>The EMA filter on float64 gradients: its vectorised CPU twin.</summary>
internal static unsafe class EmaFloat64Kernels
{
    /// <summary>Bytes one step moves per gradient element.</summary>
    public const int BytesPerElement = 32;

    /// <summary>The twin run over the cores.</summary>
    public static IFloat64Kernel<EmaFloat64Constants> CreateCpu() => new Float64CpuRunner<double, double, EmaFloat64Constants>(&FilterRange);

    /// <summary>One element's step; the vector body performs the same operations in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (double Gradient, double State) Element(double g, double average, EmaFloat64Constants c)
    {
        double next = c.Alpha * average + c.OneMinusAlpha * g;
        return (g + c.Lamb * next, next);
    }

    /// <summary>The pass over <paramref name="count"/> contiguous elements, four double lanes at a time (on AVX2).</summary>
    internal static void FilterRange(double* g, double* ema, long count, EmaFloat64Constants c)
    {
        var alpha = new Vector<double>(c.Alpha);
        var oneMinusAlpha = new Vector<double>(c.OneMinusAlpha);
        var lamb = new Vector<double>(c.Lamb);
        bool initialize = c.Initialize != 0;
        long i = 0;
        for (; i <= count - Vector<double>.Count; i += Vector<double>.Count)
        {
            Vector<double> gi = Vector.Load(g + i);
            Vector<double> average = alpha * (initialize ? gi : Vector.Load(ema + i)) + oneMinusAlpha * gi;
            Vector.Store(average, ema + i);
            Vector.Store(gi + lamb * average, g + i);
        }
        for (; i < count; i++)
        {
            (double gradient, double state) = Element(g[i], initialize ? g[i] : ema[i], c);
            ema[i] = state;
            g[i] = gradient;
        }
    }
}
