// The one vectorised CPU twin of PassKernel: the same element math (the filter's Lanes and AdamStep.Lanes perform the
// operations of their Element in the same order), two vectors of float lanes per iteration — 16 elements on AVX2, one
// Vector<ushort> of 16-bit gradients — and the scalar tail through PassElement.Step, as the ILGPU pass. A 16-bit Adam
// pass widens a block into float32 scratch and runs the float32 pass on it (RunInBlocks).
using Grokfast.Kernels.Adam;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Engine;

/// <summary>The CPU twin of <see cref="PassKernel{TStore, TFormat, TFilter, TUpdate}"/> over one contiguous range.</summary>
internal static unsafe class CpuTwin<TStore, TFormat, TFilter, TUpdate>
    where TStore : unmanaged
    where TFormat : struct, IGradientFormat<TStore>
    where TFilter : unmanaged, IFilterStep<TFilter>
    where TUpdate : struct, IPassUpdate
{
    /// <summary>Steps the <paramref name="count"/> elements at <paramref name="at"/> (pointers to the range's first element, the estimate in this step's slot).</summary>
    public static void Run(PassPointers<TStore> at, long count, PassConstants<TFilter> c)
    {
        FilterLanes filter = TFilter.Broadcast(c.Filter);
        AdamLanes adam = TUpdate.IsAdam ? new AdamLanes(c.Adam) : default;
        if (typeof(TStore) != typeof(float) && TUpdate.IsAdam) RunInBlocks(at, count, c, filter, adam);
        else Run(at, count, c, filter, adam);
    }

    /// <summary>The pass with the step's scalars already broadcast (once per range, not per block of a 16-bit Adam pass).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Run(PassPointers<TStore> at, long count, PassConstants<TFilter> c, in FilterLanes filterLanes, in AdamLanes adamLanes)
    {
        // Copies the JIT keeps in registers: read through the references, every vector would be loaded again on every
        // iteration (a store through the pass's pointers might have changed it).
        FilterLanes filter = filterLanes;
        AdamLanes adam = adamLanes;
        bool reads = TFilter.KeepsEstimate && TFilter.ReadsEstimate(c.Filter);
        bool writes = !TUpdate.IsAdam && TFilter.ChangesGradient(c.Filter);
        int lanes = Vector<float>.Count, half = Vector<double>.Count;
        long i = 0;
        for (; i <= count - 2 * lanes; i += 2 * lanes)
        {
            (Vector<float> gLow, Vector<float> gHigh) = TFormat.LoadLanes(at.G + i);
            if (TUpdate.IsAdam && adam.Scales) (gLow, gHigh) = (gLow * adam.GradientScale, gHigh * adam.GradientScale);
            float* estimate = at.Estimate + i;
            double* sum = at.Sum + i;
            Vector<float> eLow = reads ? Vector.Load(estimate) : default, eHigh = reads ? Vector.Load(estimate + lanes) : default;
            Vector<double> s0 = default, s1 = default, s2 = default, s3 = default;
            if (TFilter.KeepsSum) (s0, s1, s2, s3) = (Vector.Load(sum), Vector.Load(sum + half), Vector.Load(sum + lanes), Vector.Load(sum + lanes + half));
            Vector<float> fLow = TFilter.Lanes(c.Filter, in filter, gLow, ref eLow, ref s0, ref s1);
            Vector<float> fHigh = TFilter.Lanes(c.Filter, in filter, gHigh, ref eHigh, ref s2, ref s3);
            if (TFilter.KeepsEstimate)
            {
                Vector.Store(eLow, estimate);
                Vector.Store(eHigh, estimate + lanes);
            }
            if (TFilter.KeepsSum)
            {
                Vector.Store(s0, sum);
                Vector.Store(s1, sum + half);
                Vector.Store(s2, sum + lanes);
                Vector.Store(s3, sum + lanes + half);
            }
            if (writes) TFormat.StoreLanes(fLow, fHigh, at.G + i);
            if (TUpdate.IsAdam) StepAdam(at, i, fLow, fHigh, adam);
        }
        for (; i < count; i++)
        {
            PassElement e = PassElement.Step<TFilter, TUpdate>(new PassElement(TFormat.Widen(at.G[i]), reads ? at.Estimate[i] : 0,
                TFilter.KeepsSum ? at.Sum[i] : 0, TUpdate.IsAdam ? TFormat.Widen(at.P[i]) : 0,
                TUpdate.IsAdam ? at.M[i] : 0, TUpdate.IsAdam ? at.V[i] : 0), c);
            if (writes) at.G[i] = TFormat.Narrow(e.G);
            if (TFilter.KeepsEstimate) at.Estimate[i] = e.Estimate;
            if (TFilter.KeepsSum) at.Sum[i] = e.Sum;
            if (!TUpdate.IsAdam) continue;
            at.P[i] = TFormat.Narrow(e.Weight);
            at.M[i] = e.M;
            at.V[i] = e.V;
        }
    }

    // A 16-bit Adam pass, a block at a time: the block's gradients (and, without master weights, its parameters) widened
    // into float32 scratch on the stack, the float32 pass run on it — on the master weights, or on the widened
    // parameters — and the parameters written back rounded. The same operations as one loop, so the same bits; but the
    // filter, Adam and the conversions in one loop ran 5–14 % slower in cache (too much live at once), and the scratch
    // stays in L1 beside the streams.
    private static void RunInBlocks(PassPointers<TStore> at, long count, PassConstants<TFilter> c, in FilterLanes filter, in AdamLanes adam)
    {
        const int Block = 512;
        float* gradients = stackalloc float[Block];
        float* widened = stackalloc float[Block];
        for (long i = 0; i < count; i += Block)
        {
            int n = (int)Math.Min(Block, count - i);
            BlockConversion<TStore, TFormat, float, Float32Format>.Convert(at.G + i, gradients, n);
            float* weights = TUpdate.HasMaster ? at.Master + i : widened;
            if (!TUpdate.HasMaster) BlockConversion<TStore, TFormat, float, Float32Format>.Convert(at.P + i, widened, n);
            var block = new PassPointers<float>(gradients, at.Estimate + i, at.Sum + i, null, weights, at.M + i, at.V + i);
            CpuTwin<float, Float32Format, TFilter, AdamDirect>.Run(block, n, c, filter, adam);
            BlockConversion<float, Float32Format, TStore, TFormat>.Convert(weights, at.P + i, n);
        }
    }

    // Adam on two vectors of filtered gradients, the parameters and the moments in place. Only float32 parameters come
    // here: a 16-bit Adam pass runs in blocks (RunInBlocks), on float32 master weights or widened parameters.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StepAdam(PassPointers<TStore> at, long i, Vector<float> gLow, Vector<float> gHigh, in AdamLanes c)
    {
        int lanes = Vector<float>.Count;
        float* m = at.M + i, v = at.V + i;
        (Vector<float> wLow, Vector<float> wHigh) = TFormat.LoadLanes(at.P + i);
        Vector<float> mLow = Vector.Load(m), mHigh = Vector.Load(m + lanes), vLow = Vector.Load(v), vHigh = Vector.Load(v + lanes);
        wLow = AdamStep.Lanes(gLow, wLow, ref mLow, ref vLow, in c);
        wHigh = AdamStep.Lanes(gHigh, wHigh, ref mHigh, ref vHigh, in c);
        TFormat.StoreLanes(wLow, wHigh, at.P + i);
        Vector.Store(mLow, m);
        Vector.Store(mHigh, m + lanes);
        Vector.Store(vLow, v);
        Vector.Store(vHigh, v + lanes);
    }
}

/// <summary>A pass's streams as typed pointers, each at the same element (the estimate in the step's slot); unused ones are null.</summary>
internal readonly unsafe struct PassPointers<TStore>(TStore* g, float* estimate, double* sum, float* master, TStore* p, float* m, float* v)
    where TStore : unmanaged
{
    public readonly TStore* G = g;
    public readonly float* Estimate = estimate;
    public readonly double* Sum = sum;
    public readonly float* Master = master;
    public readonly TStore* P = p;
    public readonly float* M = m;
    public readonly float* V = v;

    /// <summary>Every pointer <paramref name="elements"/> further on.</summary>
    public PassPointers<TStore> Advance(long elements) =>
        new(G + elements, Estimate + elements, Sum + elements, Master + elements, P + elements, M + elements, V + elements);
}
