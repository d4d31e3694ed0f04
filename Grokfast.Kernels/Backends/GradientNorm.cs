// The global 2-norm of a step's gradients, for fused clipping, summed in one fixed order on every backend so that the
// CPU twin and the CUDA kernels agree bit for bit, whatever the thread count:
//   1. each run is cut into blocks of BlockLength elements; in a block, lane j of 8 sums x² of elements j, j+8, j+16, …
//      in order, in double (x² of a float32 is exact in double, so a fused multiply-add rounds the same as mul, add);
//   2. a block's sum is ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7));
//   3. the step's blocks, run after run, fall into Columns columns: column t sums blocks t, t+Columns, … in order;
//   4. the columns into Folds folds the same way; 5. the folds in order; the norm is the square root.
// A square never overflows double (float32's largest is 3.4e38), so the sum is finite exactly when every gradient is:
// the sum is also the non-finite guard. One read of the gradients, the guard's: 4 bytes per float32 element, 2 per
// 16-bit one. On CUDA: one lane kernel per run (coalesced in eights, four loads in flight per thread), then three
// small kernels (columns, folds, the scale), all on the device.
using Grokfast.Kernels.Engine;
using ILGPU;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Grokfast.Kernels.Backends;

/// <summary>The fixed summation order of the gradients' 2-norm, and the clipping scale derived from it, shared by the host and the device.</summary>
internal static class GradientNorm
{
    /// <summary>Elements per block.</summary>
    public const int BlockLength = 8192;

    /// <summary>Lanes per block: each sums every eighth element.</summary>
    public const int Lanes = 8;

    /// <summary>Columns the block sums fall into.</summary>
    public const int Columns = 1024;

    /// <summary>Folds the columns fall into.</summary>
    public const int Folds = 32;

    /// <summary>Blocks a run of <paramref name="length"/> elements is cut into.</summary>
    public static long Blocks(long length) => (length + BlockLength - 1) / BlockLength;

    /// <summary>A block's sum from its eight lane sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double BlockSum(double l0, double l1, double l2, double l3, double l4, double l5, double l6, double l7) =>
        ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7));

    /// <summary>The sum of squares from the step's block sums, in the columns' and folds' order.</summary>
    public static double Total(ReadOnlySpan<double> blockSums)
    {
        Span<double> columns = stackalloc double[Columns];
        for (int t = 0; t < Columns; t++)
        {
            double sum = 0;
            for (int b = t; b < blockSums.Length; b += Columns) sum += blockSums[b];
            columns[t] = sum;
        }
        Span<double> folds = stackalloc double[Folds];
        for (int t = 0; t < Folds; t++)
        {
            double sum = 0;
            for (int c = t; c < Columns; c += Folds) sum += columns[c];
            folds[t] = sum;
        }
        double total = 0;
        foreach (double fold in folds) total += fold;
        return total;
    }

    /// <summary>
    /// The factor the gradients are multiplied by, as <c>clip_grad_norm_</c> computes it: max_norm / (norm + 1e-6), at
    /// most 1, in float32 (a NaN norm gives NaN, an infinite one 0, as there).
    /// </summary>
    public static float ClipScale(double maxNorm, double norm)
    {
        float scale = (float)(maxNorm / (norm + 1e-6));
        return scale > 1 ? 1 : scale;
    }

    /// <summary>
    /// Thread <paramref name="thread"/> of the columns' and the folds' kernel: <c>sums[t]</c> gets terms t,
    /// t + <c>sums.Length</c>, … of the <paramref name="count"/> terms of <paramref name="values"/>, in order — the
    /// block sums of lane sums into <see cref="Columns"/> columns (<see cref="BlockTerms"/>), then the columns into
    /// <see cref="Folds"/> folds (<see cref="ValueTerms"/>).
    /// </summary>
    internal static void SumKernel<TTerms>(Index1D thread, ArrayView<double> values, long count, ArrayView<double> sums)
        where TTerms : struct, INormTerms
    {
        long stride = Grid.DimX * Group.DimX;
        for (long t = thread.X; t < sums.Length; t += stride)
        {
            double sum = 0;
            for (long i = t; i < count; i += sums.Length) sum += TTerms.Term(values, i);
            sums[t] = sum;
        }
    }

    /// <summary>
    /// One thread: the folds summed, the norm into <c>norm[0]</c>, the scale into <c>scale[0]</c>, and — when
    /// <paramref name="guard"/> is 1 and a gradient was NaN or ±Inf — the step's skip flag set.
    /// </summary>
    internal static void ClipKernel(Index1D thread, ArrayView<double> folds, ArrayView<double> norm, ArrayView<float> scale,
        ArrayView<int> skip, double maxNorm, int guard)
    {
        if (thread.X != 0) return;
        double total = 0;
        for (int t = 0; t < Folds; t++) total += folds[t];
        double root = Math.Sqrt(total);
        norm[0] = root;
        scale[0] = ClipScale(maxNorm, root);
        if (guard != 0 && !double.IsFinite(total)) skip[0] = 1;
    }
}

/// <summary>What <see cref="GradientNorm.SumKernel{TTerms}"/> adds: term <c>i</c> of a view.</summary>
internal interface INormTerms
{
    /// <summary>Term <paramref name="index"/> of <paramref name="values"/>.</summary>
    static abstract double Term(ArrayView<double> values, long index);
}

/// <summary>Block <c>i</c>'s sum, from its eight lane sums.</summary>
internal readonly struct BlockTerms : INormTerms
{
    public static double Term(ArrayView<double> lanes, long index)
    {
        long l = index * GradientNorm.Lanes;
        return GradientNorm.BlockSum(lanes[l], lanes[l + 1], lanes[l + 2], lanes[l + 3], lanes[l + 4], lanes[l + 5], lanes[l + 6], lanes[l + 7]);
    }
}

/// <summary>Value <c>i</c>.</summary>
internal readonly struct ValueTerms : INormTerms
{
    public static double Term(ArrayView<double> values, long index) => values[index];
}

/// <summary>The block sums of squares of gradients of format <typeparamref name="TFormat"/>: the host's, vectorised and split over cores, and the lane kernel CUDA runs.</summary>
internal static unsafe class GradientNorm<TStore, TFormat>
    where TStore : unmanaged
    where TFormat : struct, IGradientFormat<TStore>
{
    /// <summary>Writes the sum of each block of the <paramref name="length"/> values at <paramref name="data"/> to <paramref name="sums"/> (<see cref="GradientNorm.Blocks"/> of them).</summary>
    public static void BlockSums(nint data, long length, double* sums)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var job = new BlockJob((TStore*)data, length, sums);
        CpuParallel.For(length, ref job);
    }

    /// <summary>
    /// Thread <paramref name="thread"/> of the lane kernel over one run: <c>lanes[8b + j]</c> gets lane j of block b.
    /// Each thread keeps four loads in flight and adds them in order.
    /// </summary>
    internal static void LaneKernel(Index1D thread, ArrayView<TStore> data, ArrayView<double> lanes)
    {
        const int Lanes = GradientNorm.Lanes;
        long stride = Grid.DimX * Group.DimX;
        for (long t = thread.X; t < lanes.Length; t += stride)
        {
            long block = t / Lanes;
            long end = Math.Min(data.Length, (block + 1) * GradientNorm.BlockLength);
            long i = block * GradientNorm.BlockLength + t % Lanes;
            double sum = 0;
            for (; i + 3 * Lanes < end; i += 4 * Lanes)
            {
                double a = TFormat.Widen(data[i]), b = TFormat.Widen(data[i + Lanes]);
                double c = TFormat.Widen(data[i + 2 * Lanes]), d = TFormat.Widen(data[i + 3 * Lanes]);
                sum += a * a;
                sum += b * b;
                sum += c * c;
                sum += d * d;
            }
            for (; i < end; i += Lanes)
            {
                double x = TFormat.Widen(data[i]);
                sum += x * x;
            }
            lanes[t] = sum;
        }
    }

    // A chunk sums the blocks that start in it (a block may reach past the chunk's end).
    private readonly struct BlockJob(TStore* data, long length, double* sums) : IRangeJob
    {
        public void Run(long start, long count)
        {
            for (long b = GradientNorm.Blocks(start); b * GradientNorm.BlockLength < start + count; b++)
            {
                long first = b * GradientNorm.BlockLength;
                sums[b] = BlockSum(data + first, (int)Math.Min(GradientNorm.BlockLength, length - first));
            }
        }
    }

    // The lanes as two vectors of four doubles (lanes 0-3, 4-7), eight values at a time in order: the format's two vectors
    // of float lanes per load (16 values on AVX2, 8 with 128-bit vectors, 32 with 512-bit ones) cut into eights; every
    // element keeps its lane, and the last few go one by one.
    private static double BlockSum(TStore* x, int n)
    {
        const int Lanes = GradientNorm.Lanes;
        int step = 2 * System.Numerics.Vector<float>.Count;
        Vector256<double> low = default, high = default;
        int whole = n - n % step;
        for (int i = 0; i < whole; i += step)
        {
            (System.Numerics.Vector<float> first, System.Numerics.Vector<float> second) = TFormat.LoadLanes(x + i);
            if (System.Numerics.Vector<float>.Count == 4)
            {
                Square(Vector256.Create(first.AsVector128(), second.AsVector128()), ref low, ref high);
            }
            else
            {
                Square(first, ref low, ref high);
                Square(second, ref low, ref high);
            }
        }
        Span<double> lanes = [low[0], low[1], low[2], low[3], high[0], high[1], high[2], high[3]];
        for (int i = whole; i < n; i++)
        {
            double value = TFormat.Widen(x[i]);
            lanes[i % Lanes] += value * value;
        }
        return GradientNorm.BlockSum(lanes[0], lanes[1], lanes[2], lanes[3], lanes[4], lanes[5], lanes[6], lanes[7]);
    }

    // A vector of 8 or 16 floats, eight at a time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Square(System.Numerics.Vector<float> values, ref Vector256<double> low, ref Vector256<double> high)
    {
        if (System.Numerics.Vector<float>.Count == 8)
        {
            Square(values.AsVector256(), ref low, ref high);
            return;
        }
        Vector512<float> sixteen = values.AsVector512();
        Square(sixteen.GetLower(), ref low, ref high);
        Square(sixteen.GetUpper(), ref low, ref high);
    }

    // Eight values' squares, exact in double, added to their lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Square(Vector256<float> eight, ref Vector256<double> low, ref Vector256<double> high)
    {
        (Vector256<double> l, Vector256<double> h) = Vector256.Widen(eight);
        low += l * l;
        high += h * h;
    }
}
