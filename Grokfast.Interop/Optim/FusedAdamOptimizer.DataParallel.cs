using Grokfast.Kernels.Distributed;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

public abstract partial class FusedAdamOptimizer
{
    /// <summary>
    /// Data-parallel training: the communicator (e.g. <see cref="MpiCommunicator.World"/> under <c>mpirun</c>) across whose
    /// ranks each step first averages the gradients — one collective per flat buffer, before the guard, the clipping norm,
    /// the filter and Adam — so every rank takes the same step and keeps the same state; null (the default) for none. Each
    /// rank computes its gradients on its own part of the batch. The communicator stays yours to dispose.
    /// </summary>
    public ICommunicator? communicator
    {
        get => core.Steps.Communicator;
        set => core.Steps.Communicator = value;
    }

    /// <summary>
    /// ZeRO stage 1 over these ranks (null, the default: none): each flat gradient buffer is reduce-scattered — this rank
    /// keeps the average of its contiguous block, 1/N of the buffer — the fused filter and Adam step that block only,
    /// with filter state, moments and masters for it alone, and the updated parameters are all-gathered, so every rank
    /// holds them whole. The guard and the clipping norm are decided over all ranks together. Float32, bfloat16 and
    /// float16 parameters (the 16-bit ones' masters sharded too) on the CPU over MPI; set before the first step (the
    /// state is laid out anew); instead of <see cref="communicator"/>. Checkpoints are the single process's (every rank
    /// calls <see cref="save"/>; rank 0 writes) and load with any number of ranks; so does TorchSharp's state shape
    /// (<see cref="state_dict"/>, gathered by every rank).
    /// </summary>
    public ICommunicator? shard_over
    {
        get => core.Steps.ShardRanks;
        set
        {
            ThrowIfDisposed();
            if (ReferenceEquals(value, core.Steps.ShardRanks)) return;
            if (stepCalls > 0)
                throw new InvalidOperationException("shard_over is set before the first step: the optimizer state is laid out anew for the shard.");
            if (value is not null && core.Steps.Communicator is not null)
                throw new InvalidOperationException("Set shard_over instead of communicator: a sharded step averages the gradients through its reduce-scatter.");
            EndSnapshot();
            var next = new FusedAdamState(names, module, grokfast, Backend, SkipNonFinite, MasterWeights, value);
            next.Steps.Clipping!.MaxNorm = max_grad_norm;
            ReleaseStates();
            core.Dispose();
            core = next;
            BindStates();
        }
    }

    /// <summary>
    /// TorchSharp's optimizer state (see <see cref="ParameterState"/>): live views of the optimizer's buffers. With sharded
    /// state (<see cref="shard_over"/>) every rank calls it, as PyTorch's <c>ZeroRedundancyOptimizer</c> consolidates its
    /// state first: the ranks gather each buffer whole, and the states are views of that snapshot — the single process's
    /// state, which TorchSharp's <c>save_state_dict</c> writes and <c>load_state_dict</c> reads with any number of ranks.
    /// What is loaded into the snapshot goes into each rank's blocks before the next step, checkpoint or
    /// <c>state_dict()</c>; a later <c>state_dict()</c> gathers the current values into the same states.
    /// </summary>
    public override StateDictionary state_dict()
    {
        ThrowIfDisposed();
        if (core.Steps.Shards is not null)
        {
            CommitSnapshot();
            if (snapshot is null)
            {
                snapshot = new ShardedStateSnapshot(core);
                BindStates();
            }
            else
            {
                snapshot.Gather();
            }
        }
        return base.state_dict();
    }
}
