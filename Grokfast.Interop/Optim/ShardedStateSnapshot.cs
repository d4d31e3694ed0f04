using Grokfast.Checkpoints;
using static TorchSharp.torch;

namespace Grokfast.Optim;

/// <summary>
/// TorchSharp's state shape of ZeRO-1-sharded state: every sharded buffer gathered whole, in the unsharded layout (a
/// collective: every rank takes part), for the parameters' states to be views of. What is written into those copies —
/// a <c>load_state_dict</c> — goes back into each rank's blocks when the snapshot is committed. The states stay views of
/// the same copies: a later <see cref="Gather"/> refreshes them in place.
/// </summary>
internal sealed class ShardedStateSnapshot : IDisposable
{
    private readonly List<(ShardedStateBuffer Buffer, Tensor Whole)> buffers = [];

    /// <summary>Gathers every sharded buffer of <paramref name="core"/>.</summary>
    public ShardedStateSnapshot(FusedAdamState core)
    {
        try
        {
            foreach (StateBuffer buffer in core.StateBuffers)
            {
                if (buffer is ShardedStateBuffer sharded) buffers.Add((sharded, sharded.Gather()));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Gathers the buffers' current values into the same copies (the states stay views of them).</summary>
    public void Gather()
    {
        foreach ((ShardedStateBuffer buffer, Tensor whole) in buffers) buffer.GatherInto(whole);
        Changed = false;
    }

    /// <summary>The whole buffers by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Wholes => buffers.ToDictionary(b => b.Buffer.Name, b => b.Whole);

    /// <summary>Whether the copies were written since they were gathered or last committed.</summary>
    public bool Changed { get; set; }

    /// <summary>Keeps this rank's blocks of the copies in the optimizer's state, if they were written.</summary>
    public void Commit()
    {
        if (!Changed) return;
        foreach ((ShardedStateBuffer buffer, Tensor whole) in buffers) buffer.Scatter(whole);
        Changed = false;
    }

    /// <summary>Frees the copies. Never throws.</summary>
    public void Dispose()
    {
        foreach ((ShardedStateBuffer buffer, Tensor whole) in buffers)
        {
            whole.Dispose();
            buffer.Dispose();
        }
        buffers.Clear();
    }
}
