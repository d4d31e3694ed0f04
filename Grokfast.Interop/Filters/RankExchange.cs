using Grokfast.Bridge;
using Grokfast.Kernels.Distributed;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Filters;

/// <summary>
/// How a step's gradients meet the other ranks' before anything reads them: averaged whole (data parallel: one
/// all-reduce per flat buffer, then a division by the world size, as DDP divides), or — sharded, ZeRO-1 — reduce-scattered
/// so that this rank keeps the average of its block of each buffer (<see cref="Shards"/>); sharded, the step's runs are
/// then cut to the blocks and the guard's and the norm's decisions taken over all ranks together.
/// </summary>
internal sealed class RankExchange : IDisposable
{
    private readonly FlatGradientBuffer gradients;
    private readonly Scalar worldSize;
    private readonly Tensor[] scratch = [];
    private readonly List<ParameterRun> cut = [];

    /// <summary>Exchanges <paramref name="gradients"/> over <paramref name="ranks"/>, whole or (<paramref name="sharded"/>) block by block.</summary>
    public RankExchange(ICommunicator ranks, FlatGradientBuffer gradients, bool sharded)
    {
        Ranks = ranks;
        this.gradients = gradients;
        worldSize = ranks.WorldSize;
        if (!sharded) return;
        try
        {
            Shards = new ShardLayout(gradients.Groups, ranks);
            scratch = [.. Shards.Groups.Select(g => torch.empty(g.Length, g.Tensor.dtype, gradients.Device))];
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The ranks.</summary>
    public ICommunicator Ranks { get; }

    /// <summary>This rank's blocks of the buffers when sharded, else null.</summary>
    public ShardLayout? Shards { get; }

    /// <summary>The exchange itself: every buffer averaged, or this rank's blocks of the averages kept in its blocks.</summary>
    public void Exchange()
    {
        for (int g = 0; g < gradients.Groups.Count; g++)
        {
            GradientGroup group = gradients.Groups[g];
            if (Shards is null)
            {
                Ranks.AllReduceSum(group.Address, group.Length, group.Format);
                using (torch.no_grad()) group.Tensor.div_(worldSize);
                continue;
            }
            // Into scratch (MPI's send and receive buffers may not overlap), then into the block; the rest of the buffer
            // is not read again this step.
            Ranks.ReduceScatterSum(group.Address, TensorAddress.OfAny(scratch[g]), Shards.Counts(g), group.Format);
            using (torch.no_grad()) Shards.Groups[g].Tensor.copy_(scratch[g]).div_(worldSize);
        }
    }

    /// <summary><paramref name="runs"/> as this rank steps them: whole, or cut to its blocks (a run outside them keeps its counts and moves nothing).</summary>
    public IReadOnlyList<ParameterRun> Cut(IReadOnlyList<ParameterRun> runs)
    {
        if (Shards is null) return runs;
        cut.Clear();
        foreach (ParameterRun run in runs) cut.Add(Shards.Cut(run));
        return cut;
    }

    /// <summary>The ranks' sum of <paramref name="local"/> when sharded (each rank saw its blocks only); else <paramref name="local"/>, which every rank already shares.</summary>
    public double Sum(double local) => Shards is null ? local : Ranks.AllReduceSum(local);

    /// <summary>Whether any rank's <paramref name="local"/> is true, when sharded; else <paramref name="local"/>.</summary>
    public bool Any(bool local) => Shards is null ? local : Ranks.AllReduceMax(local ? 1 : 0) > 0;

    /// <summary>Frees the scratch, the blocks' views and the world size's scalar; the communicator stays its owner's. Never throws.</summary>
    public void Dispose()
    {
        worldSize.Dispose();
        foreach (Tensor block in scratch) block.Dispose();
        Shards?.Dispose();
    }
}
