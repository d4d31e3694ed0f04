using Grokfast.Bridge;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Checkpoints;

/// <summary>
/// A ZeRO-1 rank's block of a state buffer, as a checkpoint sees the whole buffer: saving gathers every rank's blocks into
/// the buffer of the unsharded layout (every rank takes part; one buffer at a time is held whole), loading reads the whole
/// buffer and keeps this rank's blocks. So a checkpoint of a sharded run is the single process's checkpoint, and loads
/// with any number of ranks. The buffer holds <c>slots</c> runs of each block of the groups it covers, group by group
/// (the windowed mean's ring has one per slot; the other buffers one; the master weights cover the 16-bit groups only).
/// </summary>
internal sealed class ShardedStateBuffer : StateBuffer
{
    private readonly Tensor shard;
    private readonly ShardLayout layout;
    private readonly ICommunicator ranks;
    private readonly int[] covered;
    private readonly int slots;
    private readonly bool ownsShard;

    /// <summary>
    /// The block <paramref name="shard"/> (float32 or float64, host memory) of buffer <paramref name="name"/> of
    /// <paramref name="layout"/>, which covers the groups <paramref name="covered"/> (null: every group) one after another.
    /// </summary>
    public ShardedStateBuffer(string name, Tensor shard, ShardLayout layout, ICommunicator ranks, IReadOnlyList<int>? covered = null, bool ownsShard = false)
        : base(name, FullElements(shard, layout, Covered(layout, covered)) * shard.element_size())
    {
        this.shard = shard;
        this.layout = layout;
        this.ranks = ranks;
        this.ownsShard = ownsShard;
        this.covered = Covered(layout, covered);
        slots = (int)(shard.numel() / Math.Max(1, this.covered.Sum(g => layout.Groups[g].Length)));
    }

    public override void Save(Action<ReadOnlySpan<byte>> write)
    {
        using Tensor whole = Gather();
        new TensorStateBuffer(Name, whole).Save(write);
    }

    public override void Load(Action<Span<byte>> read)
    {
        using Tensor whole = torch.empty(FullElements(shard, layout, covered), shard.dtype);
        new TensorStateBuffer(Name, whole).Load(read);
        Scatter(whole);
    }

    /// <summary>The whole buffer of the unsharded layout, every rank's blocks gathered into it (every rank calls this); the caller disposes it.</summary>
    public Tensor Gather()
    {
        Tensor whole = torch.empty(FullElements(shard, layout, covered), shard.dtype);
        GatherInto(whole);
        return whole;
    }

    /// <summary>As <see cref="Gather"/>, into <paramref name="whole"/>, a buffer of the unsharded layout.</summary>
    public void GatherInto(Tensor whole)
    {
        GradientFormat format = shard.dtype == ScalarType.Float64 ? GradientFormat.Float64 : GradientFormat.Float32;
        nint address = TensorBytes.Address(whole);
        using (torch.no_grad())
        {
            ForEachBlock((fullAt, shardAt, group) =>
            {
                using Tensor mine = whole.narrow(0, fullAt + layout.Start(group), layout.Groups[group].Length);
                using Tensor block = shard.narrow(0, shardAt, layout.Groups[group].Length);
                mine.copy_(block);
                ranks.AllGatherInPlace(address + (nint)(fullAt * shard.element_size()), layout.Counts(group), format);
            });
        }
    }

    /// <summary>Keeps this rank's blocks of <paramref name="whole"/>, a buffer of the unsharded layout.</summary>
    public void Scatter(Tensor whole)
    {
        using (torch.no_grad())
        {
            ForEachBlock((fullAt, shardAt, group) =>
            {
                using Tensor mine = whole.narrow(0, fullAt + layout.Start(group), layout.Groups[group].Length);
                using Tensor block = shard.narrow(0, shardAt, layout.Groups[group].Length);
                block.copy_(mine);
            });
        }
    }

    public override StateBuffer CreateStaging() => new ShardedStateBuffer(Name, torch.empty_like(shard).DetachFromDisposeScope(), layout, ranks, covered, ownsShard: true);

    public override void CopyFrom(StateBuffer staging)
    {
        using (torch.no_grad()) shard.copy_(((ShardedStateBuffer)staging).shard);
    }

    // A layout with groups appended cuts the earlier buffers into the same blocks: this rank's old blocks are a prefix of its new ones.
    public override void CopyPrefixFrom(StateBuffer prefix)
    {
        Tensor source = ((ShardedStateBuffer)prefix).shard;
        using Tensor head = shard.narrow(0, 0, source.numel());
        using (torch.no_grad()) head.copy_(source);
    }

    public override void Dispose()
    {
        base.Dispose();
        if (ownsShard) shard.Dispose();
    }

    // Each covered group's slots: where the run starts in the whole buffer and in the block, group by group, slot by slot.
    private void ForEachBlock(Action<long, long, int> body)
    {
        long fullBase = 0, shardBase = 0;
        foreach (int g in covered)
        {
            long fullLength = layout.Full[g].Length, shardLength = layout.Groups[g].Length;
            for (int s = 0; s < slots; s++)
                body(slots * fullBase + s * fullLength, slots * shardBase + s * shardLength, g);
            fullBase += fullLength;
            shardBase += shardLength;
        }
    }

    private static int[] Covered(ShardLayout layout, IReadOnlyList<int>? covered) => [.. covered ?? Enumerable.Range(0, layout.Groups.Count)];

    private static long FullElements(Tensor shard, ShardLayout layout, int[] covered) =>
        shard.numel() / Math.Max(1, covered.Sum(g => layout.Groups[g].Length)) * covered.Sum(g => layout.Full[g].Length);
}
