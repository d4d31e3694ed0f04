// The one ILGPU pass: every filter, format and update, on ILGPU's CPU accelerator in tests and as PTX on CUDA.
// Each thread walks a grid-stride loop, so consecutive threads touch consecutive elements (coalesced) and any length is
// one launch. Where every view starts 16-byte aligned the streams move four elements per access (Quad); the last one to
// three elements, and every element of an unaligned run, go one by one, as the loop's last work items.
using ILGPU;

namespace Grokfast.Kernels.Engine;

/// <summary>The fused pass of filter <typeparamref name="TFilter"/> on gradients of format <typeparamref name="TFormat"/>, ending in <typeparamref name="TUpdate"/>.</summary>
internal static class PassKernel<TStore, TFormat, TFilter, TUpdate>
    where TStore : unmanaged
    where TFormat : struct, IGradientFormat<TStore>
    where TFilter : unmanaged, IFilterStep<TFilter>
    where TUpdate : struct, IPassUpdate
{
    /// <summary>
    /// Thread <paramref name="thread"/> of the pass over the run's <c>g.Length</c> elements; nothing moves when
    /// <c>skip[0]</c> is set. The estimate view starts at the run's first element of slot 0, its slots
    /// <paramref name="stride"/> apart; views a pass does not use are empty. <paramref name="aligned"/> is 1 when every
    /// view starts on 16 bytes (and the slots are 16 bytes apart).
    /// </summary>
    internal static void Kernel(Index1D thread, ArrayView<TStore> g, ArrayView<float> estimates, ArrayView<double> sums,
        ArrayView<float> master, ArrayView<TStore> p, ArrayView<float> m, ArrayView<float> v,
        ArrayView<PassConstants<TFilter>> step, ArrayView<int> skip, long stride, int aligned)
    {
        if (skip[0] != 0) return;
        PassConstants<TFilter> c = step[0];
        long length = g.Length;
        ArrayView<float> estimate = TFilter.KeepsEstimate ? estimates.SubView(TFilter.EstimateOffset(c.Filter, stride), length) : estimates;
        bool reads = TFilter.KeepsEstimate && TFilter.ReadsEstimate(c.Filter);
        bool writes = !TUpdate.IsAdam && TFilter.ChangesGradient(c.Filter);
        long threads = Grid.DimX * Group.DimX;
        long quads = aligned != 0 ? length / 4 : 0;
        ArrayView<Quad<TStore>> g4 = Quads(g, quads, true), p4 = Quads(p, quads, TUpdate.IsAdam);
        ArrayView<Quad<float>> estimate4 = Quads(estimate, quads, TFilter.KeepsEstimate), master4 = Quads(master, quads, TUpdate.HasMaster);
        ArrayView<Quad<float>> m4 = Quads(m, quads, TUpdate.IsAdam), v4 = Quads(v, quads, TUpdate.IsAdam);
        ArrayView<Quad<double>> sums4 = Quads(sums, quads, TFilter.KeepsSum);
        // Work item u is quad u, then (past the quads) element 4 × quads + (u − quads): one loop, the branch uniform
        // in every warp but the one that straddles the last quad.
        for (long u = thread.X; u < length - 3 * quads; u += threads)
        {
            if (u >= quads)
            {
                long i = u + 3 * quads;
                PassElement e = PassElement.Step<TFilter, TUpdate>(new PassElement(TFormat.Widen(g[i]), reads ? estimate[i] : 0,
                    TFilter.KeepsSum ? sums[i] : 0, TUpdate.IsAdam ? (TUpdate.HasMaster ? master[i] : TFormat.Widen(p[i])) : 0,
                    TUpdate.IsAdam ? m[i] : 0, TUpdate.IsAdam ? v[i] : 0), c);
                if (writes) g[i] = TFormat.Narrow(e.G);
                if (TFilter.KeepsEstimate) estimate[i] = e.Estimate;
                if (TFilter.KeepsSum) sums[i] = e.Sum;
                if (!TUpdate.IsAdam) continue;
                if (TUpdate.HasMaster) master[i] = e.Weight;
                p[i] = TFormat.Narrow(e.Weight);
                m[i] = e.M;
                v[i] = e.V;
                continue;
            }
            Quad<TStore> gq = g4[u];
            Quad<float> eq = reads ? estimate4[u] : default, mq = TUpdate.IsAdam ? m4[u] : default, vq = TUpdate.IsAdam ? v4[u] : default;
            Quad<double> sq = TFilter.KeepsSum ? sums4[u] : default;
            Quad<float> wq = !TUpdate.IsAdam ? default : TUpdate.HasMaster ? master4[u] : Widen(p4[u]);
            PassElement x = PassElement.Step<TFilter, TUpdate>(new PassElement(TFormat.Widen(gq.X), eq.X, sq.X, wq.X, mq.X, vq.X), c);
            PassElement y = PassElement.Step<TFilter, TUpdate>(new PassElement(TFormat.Widen(gq.Y), eq.Y, sq.Y, wq.Y, mq.Y, vq.Y), c);
            PassElement z = PassElement.Step<TFilter, TUpdate>(new PassElement(TFormat.Widen(gq.Z), eq.Z, sq.Z, wq.Z, mq.Z, vq.Z), c);
            PassElement w = PassElement.Step<TFilter, TUpdate>(new PassElement(TFormat.Widen(gq.W), eq.W, sq.W, wq.W, mq.W, vq.W), c);
            if (writes) g4[u] = new Quad<TStore>(TFormat.Narrow(x.G), TFormat.Narrow(y.G), TFormat.Narrow(z.G), TFormat.Narrow(w.G));
            if (TFilter.KeepsEstimate) estimate4[u] = new Quad<float>(x.Estimate, y.Estimate, z.Estimate, w.Estimate);
            if (TFilter.KeepsSum) sums4[u] = new Quad<double>(x.Sum, y.Sum, z.Sum, w.Sum);
            if (!TUpdate.IsAdam) continue;
            if (TUpdate.HasMaster) master4[u] = new Quad<float>(x.Weight, y.Weight, z.Weight, w.Weight);
            p4[u] = new Quad<TStore>(TFormat.Narrow(x.Weight), TFormat.Narrow(y.Weight), TFormat.Narrow(z.Weight), TFormat.Narrow(w.Weight));
            m4[u] = new Quad<float>(x.M, y.M, z.M, w.M);
            v4[u] = new Quad<float>(x.V, y.V, z.V, w.V);
        }
    }

    // The first 4 × quads elements of a view as quads; an unused view stays empty (it may be shorter).
    private static ArrayView<Quad<T>> Quads<T>(ArrayView<T> view, long quads, bool used)
        where T : unmanaged => used ? view.SubView(0, 4 * quads).Cast<Quad<T>>() : default;

    private static Quad<float> Widen(Quad<TStore> q) => new(TFormat.Widen(q.X), TFormat.Widen(q.Y), TFormat.Widen(q.Z), TFormat.Widen(q.W));
}
