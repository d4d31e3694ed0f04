using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// The fused Adam/AdamW step — alone or with a filter — on 16-bit parameters and gradients of format
/// <typeparamref name="TFormat"/>, float32 moments and filter state, in host memory, split over cores. Each core takes
/// its chunk a block at a time: the block's gradients are widened into float32 scratch on the stack, the float32 twin
/// of the same step runs on it — on the float32 master weights, or on the widened parameters when there are none — and
/// the parameters are written back rounded to nearest even. So a 16-bit step is the float32 step on widened inputs,
/// rounded once, bit for bit, with no float32 copy of any buffer.
/// </summary>
/// <remarks>
/// Bytes per element: what the float32 fused step moves, less 2 for the 16-bit gradient, plus 2 for writing the 16-bit
/// parameter with master weights (the master is read and written instead of the parameter), or less 4 without (the
/// parameter read and written in 16 bits): Adam alone 28 / 22, with the EMA or Kalman filter 36 / 30, with the MA 52 / 46.
/// </remarks>
/// <typeparam name="TFormat">The 16-bit format.</typeparam>
internal sealed unsafe class FusedAdamHalfCpuKernel<TFormat> : IFusedAdamCpuKernel
    where TFormat : struct, IHalfFormat
{
    /// <summary>Elements widened at a time: the scratch (2 KB of floats per buffer) stays in L1 beside the streams.</summary>
    private const int Block = 512;

    private ushort* gradients;
    private float* master;
    private ushort* parameters;
    private float* firstMoments;
    private float* secondMoments;
    private long length;

    /// <summary>
    /// Points the kernel at its buffers of <paramref name="length"/> elements; <paramref name="master"/> is the float32
    /// master weights, or 0 to update the 16-bit parameters directly. Call again whenever any moves.
    /// </summary>
    public void Bind(nint gradients, nint master, nint parameters, nint firstMoments, nint secondMoments, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        this.gradients = (ushort*)gradients;
        this.master = (float*)master;
        this.parameters = (ushort*)parameters;
        this.firstMoments = (float*)firstMoments;
        this.secondMoments = (float*)secondMoments;
        this.length = length;
    }

    /// <inheritdoc />
    public void Step(long offset, long count, AdamConstants adam) => Run(offset, count, new AdamRange(adam));

    /// <inheritdoc />
    public void Step(long offset, long count, nint average, EmaConstants filter, AdamConstants adam)
    {
        ArgumentOutOfRangeException.ThrowIfZero(average);
        Run(offset, count, new EmaAdamRange((float*)average + offset, filter, adam));
    }

    /// <inheritdoc />
    public void Step(long offset, long count, nint estimates, KalmanConstants filter, AdamConstants adam)
    {
        ArgumentOutOfRangeException.ThrowIfZero(estimates);
        Run(offset, count, new KalmanAdamRange((float*)estimates + offset, filter, adam));
    }

    /// <inheritdoc />
    public void Step(long offset, long count, nint ring, nint sums, int windowSize, WindowedMeanConstants filter, AdamConstants adam)
    {
        ArgumentOutOfRangeException.ThrowIfZero(ring);
        ArgumentOutOfRangeException.ThrowIfZero(sums);
        ArgumentOutOfRangeException.ThrowIfNegative(filter.Slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(filter.Slot, windowSize);
        Run(offset, count, new WindowedMeanAdamRange((float*)ring + filter.Slot * length + offset, (double*)sums + offset, filter, adam));
    }

    private void Run<TRange>(long offset, long count, TRange range)
        where TRange : unmanaged, IFusedAdamRange
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, length - offset);
        var job = new BlockJob<TRange>(gradients + offset, master is null ? null : master + offset, parameters + offset,
            firstMoments + offset, secondMoments + offset, range);
        CpuParallel.For(count, ref job);
    }

    private readonly struct BlockJob<TRange>(ushort* g, float* master, ushort* p, float* m, float* v, TRange range) : IRangeJob
        where TRange : unmanaged, IFusedAdamRange
    {
        public void Run(long start, long count)
        {
            float* wideGradients = stackalloc float[Block];
            float* wideParameters = stackalloc float[Block];
            for (long i = start, end = start + count; i < end; i += Block)
            {
                int n = (int)Math.Min(Block, end - i);
                HalfBlock<TFormat>.Widen(g + i, wideGradients, n);
                float* updated = master is null ? wideParameters : master + i;
                if (master is null) HalfBlock<TFormat>.Widen(p + i, wideParameters, n);
                range.Step(wideGradients, updated, m + i, v + i, i, n);
                HalfBlock<TFormat>.Narrow(updated, p + i, n);
            }
        }
    }
}
