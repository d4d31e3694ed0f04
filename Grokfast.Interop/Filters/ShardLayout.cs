using Grokfast.Bridge;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Distributed;
using static TorchSharp.torch;

namespace Grokfast.Filters;

/// <summary>
/// ZeRO-1's split of the flat gradient buffers over the ranks: each buffer (one per parameter group and dtype) cut into
/// <c>WorldSize</c> contiguous blocks of equal length, the first <c>Length mod WorldSize</c> one element longer. This
/// rank steps, and keeps optimizer state for, its block of each buffer only: <see cref="Groups"/> are those blocks, laid
/// out one after another as the full buffers are, so the passes and the state built on them are the shard's.
/// </summary>
internal sealed class ShardLayout : IDisposable
{
    private readonly IReadOnlyList<GradientGroup> full;
    private readonly int[][] counts;
    private readonly long[] starts;
    private readonly GradientGroup[] groups;

    /// <summary>Splits <paramref name="full"/> over <paramref name="ranks"/>.</summary>
    public ShardLayout(IReadOnlyList<GradientGroup> full, ICommunicator ranks)
    {
        this.full = full;
        int n = ranks.WorldSize, rank = ranks.Rank;
        counts = new int[full.Count][];
        starts = new long[full.Count];
        groups = new GradientGroup[full.Count];
        long shardBase = 0, float32State = 0;
        for (int g = 0; g < full.Count; g++)
        {
            GradientGroup group = full[g];
            // The fused optimizers take no float64 parameters: every block's state is float32.
            if (group.Format == GradientFormat.Float64)
                throw new NotSupportedException("Sharded optimizer state is float32: it takes float32, bfloat16 and float16 parameters.");
            if (group.Length / n >= int.MaxValue)
                throw new NotSupportedException($"A gradient buffer of {group.Length} elements over {n} ranks gives blocks over MPI's 2^31 - 1 elements.");
            counts[g] = [.. Enumerable.Range(0, n).Select(r => (int)(group.Length / n + (r < group.Length % n ? 1 : 0)))];
            starts[g] = counts[g].Take(rank).Sum(c => (long)c);
            long length = counts[g][rank];
            groups[g] = group with
            {
                Tensor = group.Tensor.narrow(0, starts[g], length),
                Address = group.Address + (nint)(starts[g] * group.Format.ElementSize()),
                Base = shardBase,
                Length = length,
                StateBase = float32State,
            };
            shardBase += length;
            float32State += length;
        }
        Length = shardBase;
    }

    /// <summary>This rank's block of each buffer, as a buffer of its own.</summary>
    public IReadOnlyList<GradientGroup> Groups => groups;

    /// <summary>Elements in this rank's blocks together: the length of its optimizer state.</summary>
    public long Length { get; }

    /// <summary>Each rank's block length in buffer <paramref name="group"/>.</summary>
    public ReadOnlySpan<int> Counts(int group) => counts[group];

    /// <summary>Where this rank's block starts in the full buffer <paramref name="group"/>.</summary>
    public long Start(int group) => starts[group];

    /// <summary><paramref name="run"/> (of the full layout) cut to this rank's block of its buffer: offset within the block, possibly no elements.</summary>
    public ParameterRun Cut(ParameterRun run)
    {
        long start = starts[run.Group], end = start + groups[run.Group].Length;
        long from = Math.Clamp(run.Offset, start, end), to = Math.Clamp(run.Offset + run.Length, start, end);
        return run with { Offset = from - start, Length = to - from };
    }

    /// <summary>The full buffers this splits.</summary>
    public IReadOnlyList<GradientGroup> Full => full;

    /// <summary>Frees the blocks' tensor views (the buffers stay). Never throws.</summary>
    public void Dispose()
    {
        foreach (GradientGroup group in groups) group.Tensor.Dispose();
    }
}
