using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Distributed;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Distributed;

/// <summary>
/// <see cref="FusedAdamOptimizer.shard_over"/> in one process, over a world of one rank (no MPI): the sharded path —
/// reduce-scatter, cut runs, shared decisions, gathered checkpoints — must equal the unsharded step bit for bit, and what
/// it does not support yet says so.
/// </summary>
public sealed class ShardOverTests
{
    [Fact]
    public void OneRank_Sharded_EqualsTheUnshardedOptimizerBitForBit_ThroughACheckpoint()
    {
        (Tensor x, Tensor y) = TinyMlp.Data();
        string path = Path.Combine(Path.GetTempPath(), $"shard-over-{Guid.NewGuid():N}.gfst");
        try
        {
            using var plainModel = TinyMlp.CreateLinear();
            using var shardedModel = TinyMlp.CreateLinear();
            using var plain = new GrokfastAdamW(plainModel, lr: 1e-2, grokfast: GrokfastFilter.WindowedMean(window_size: 3, lamb: 2.0)) { max_grad_norm = 0.5 };
            using var sharded = new GrokfastAdamW(shardedModel, lr: 1e-2, grokfast: GrokfastFilter.WindowedMean(window_size: 3, lamb: 2.0)) { max_grad_norm = 0.5, shard_over = new OneRank() };
            for (int step = 0; step < 8; step++)
            {
                TinyMlp.Step(plainModel, plain, x, y);
                TinyMlp.Step(shardedModel, sharded, x, y);
            }
            sharded.save(path);

            Assert.Equal(TinyMlp.Flatten(plainModel.parameters()), TinyMlp.Flatten(shardedModel.parameters()));
            // The sharded optimizer's checkpoint is the plain one's.
            Assert.Equal(plain.checkpoint().Buffers.Select(b => (b.Key, b.Value)), sharded.checkpoint().Buffers.Select(b => (b.Key, b.Value)));
            sharded.load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void OneRank_MixedDtypes_WithMasterWeights_EqualsTheUnshardedOptimizerBitForBit_ThroughACheckpoint()
    {
        // float32 groups between 16-bit ones: the masters cover the 16-bit groups only.
        ScalarType[] dtypes = MixedDtypes.Mixed;
        using DtypeModule plainModel = MixedModel(), shardedModel = MixedModel();
        using var plain = new GrokfastAdamW(plainModel, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0)) { max_grad_norm = 1.0 };
        using var sharded = new GrokfastAdamW(shardedModel, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0)) { max_grad_norm = 1.0, shard_over = new OneRank() };
        string path = Path.Combine(Path.GetTempPath(), $"shard-over-{Guid.NewGuid():N}.gfst");
        Tensor[] saved = [];
        try
        {
            for (int step = 0; step < 6; step++)
            {
                MixedDtypes.SetGradients(plainModel, dtypes, step);
                MixedDtypes.SetGradients(shardedModel, dtypes, step);
                plain.step();
                sharded.step();
                if (step != 2) continue;
                sharded.save(path);
                saved = [.. shardedModel.Parameters.Select(p => p.detach().clone())];
            }

            Assert.All(Enumerable.Range(0, dtypes.Length), i => Assert.Equal(plainModel.ValueBytes(i), shardedModel.ValueBytes(i)));
            Assert.Equal(plain.checkpoint().Buffers.Select(b => (b.Key, b.Value)), sharded.checkpoint().Buffers.Select(b => (b.Key, b.Value)));
            // Back to step 3 from the checkpoint: the float32 parameters by hand, the 16-bit ones (zeroed here) rounded from
            // their masters by the load — the sharded way, each rank its block, then gathered.
            using (torch.no_grad())
            {
                for (int i = 0; i < dtypes.Length; i++)
                {
                    if (dtypes[i] == ScalarType.Float32) shardedModel.Parameters[i].copy_(saved[i]);
                    else shardedModel.Parameters[i].zero_();
                }
            }
            sharded.load(path);
            Assert.All(Enumerable.Range(0, dtypes.Length), i => Assert.True(saved[i].equal(shardedModel.Parameters[i]).all().item<bool>(), $"parameter {i}"));
            for (int step = 3; step < 6; step++)
            {
                MixedDtypes.SetGradients(shardedModel, dtypes, step);
                sharded.step();
            }

            Assert.All(Enumerable.Range(0, dtypes.Length), i => Assert.Equal(plainModel.ValueBytes(i), shardedModel.ValueBytes(i)));
        }
        finally
        {
            foreach (Tensor t in saved) t.Dispose();
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EachStep_MakesOneCollectivePerBuffer_AndOneScalarDecisionWhenSharded(bool clipped)
    {
        using var replicatedModel = TinyMlp.CreateLinear();
        using var shardedModel = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        var replicatedRanks = new OneRank();
        var shardedRanks = new OneRank();
        double? limit = clipped ? 0.5 : null;
        using var replicated = new GrokfastAdamW(replicatedModel, grokfast: GrokfastFilter.Ema()) { max_grad_norm = limit, communicator = replicatedRanks };
        using var sharded = new GrokfastAdamW(shardedModel, grokfast: GrokfastFilter.Ema()) { max_grad_norm = limit, shard_over = shardedRanks };

        for (int step = 0; step < 3; step++)
        {
            TinyMlp.Step(replicatedModel, replicated, x, y);
            TinyMlp.Step(shardedModel, sharded, x, y);
        }

        // One flat float32 buffer: one all-reduce a step, every decision taken locally on the average.
        Assert.Equal((3, 0, 0, 0, 0), replicatedRanks.Calls);
        // A reduce-scatter and an all-gather a step, and one scalar: the guard's flag, or the norm's sum of squares
        // (which also decides the guard's skip).
        Assert.Equal(clipped ? (0, 3, 3, 3, 0) : (0, 3, 3, 0, 3), shardedRanks.Calls);
    }

    [Fact]
    public void OneRank_ShardedStateDict_IsTheUnshardedOne_AndLoadsIntoTheBlocks()
    {
        // Mixed dtypes (masters over the 16-bit groups) and the windowed mean (ring slots and float64 sums).
        ScalarType[] dtypes = MixedDtypes.Mixed;
        using DtypeModule plainModel = MixedModel(), shardedModel = MixedModel();
        using var plain = new GrokfastAdamW(plainModel, lr: 1e-2, grokfast: GrokfastFilter.WindowedMean(window_size: 3, lamb: 2.0));
        using var sharded = new GrokfastAdamW(shardedModel, lr: 1e-2, grokfast: GrokfastFilter.WindowedMean(window_size: 3, lamb: 2.0)) { shard_over = new OneRank() };
        string path = Path.Combine(Path.GetTempPath(), $"shard-over-{Guid.NewGuid():N}.bin");
        try
        {
            for (int step = 0; step < 4; step++)
            {
                MixedDtypes.SetGradients(plainModel, dtypes, step);
                MixedDtypes.SetGradients(shardedModel, dtypes, step);
                plain.step();
                sharded.step();
            }
            var plainStates = plain.state_dict().State.Cast<FusedAdamOptimizer.ParameterState>().ToArray();
            var shardedStates = sharded.state_dict().State.Cast<FusedAdamOptimizer.ParameterState>().ToArray();
            Assert.All(plainStates.Zip(shardedStates), pair => Assert.True(pair.First.ApproximatelyEquals(pair.Second) && pair.First.step == pair.Second.step));
            Assert.Contains(shardedStates, s => s.master_weight is not null);
            sharded.save_state_dict(path);

            // Two steps on, then the saved state loaded back.
            for (int step = 4; step < 6; step++)
            {
                MixedDtypes.SetGradients(shardedModel, dtypes, step);
                sharded.step();
            }
            sharded.load_state_dict(path);
            // The loaded values are in the blocks (every buffer, step counts included), as the unsharded optimizer has them.
            Assert.Equal(plain.checkpoint().Buffers.Select(b => (b.Key, b.Value)), sharded.checkpoint().Buffers.Select(b => (b.Key, b.Value)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Sharded_ShardOverAfterTheFirstStep_IsRefused()
    {
        using var model = TinyMlp.CreateLinear();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var optimizer = new GrokfastAdamW(model) { shard_over = new OneRank() };

        Assert.Throws<InvalidOperationException>(() => optimizer.communicator = new OneRank());
        TinyMlp.Step(model, optimizer, x, y);
        Assert.Throws<InvalidOperationException>(() => optimizer.shard_over = null);
    }

    // A model of mixed dtypes with fixed values: two of them are alike, one for each optimizer compared.
    private static DtypeModule MixedModel()
    {
        var model = new DtypeModule(MixedDtypes.Shapes, MixedDtypes.Mixed);
        MixedDtypes.SetValues(model, MixedDtypes.Mixed);
        return model;
    }

    /// <summary>A world of one rank: every collective is the identity (a reduce-scatter copies its one block); each is counted.</summary>
    private sealed unsafe class OneRank : ICommunicator
    {
        public int Rank => 0;

        public int WorldSize => 1;

        public bool TakesDeviceMemory => false;

        /// <summary>Calls so far, by collective: buffer all-reduces, reduce-scatters, all-gathers, scalar sums, scalar maxima.</summary>
        public (int AllReduces, int ReduceScatters, int AllGathers, int Sums, int Maxima) Calls { get; private set; }

        public void AllReduceSum(nint buffer, long count, GradientFormat format) => Calls = Calls with { AllReduces = Calls.AllReduces + 1 };

        public void ReduceScatterSum(nint send, nint receive, ReadOnlySpan<int> counts, GradientFormat format)
        {
            Buffer.MemoryCopy((void*)send, (void*)receive, (long)counts[0] * format.ElementSize(), (long)counts[0] * format.ElementSize());
            Calls = Calls with { ReduceScatters = Calls.ReduceScatters + 1 };
        }

        public void AllGatherInPlace(nint buffer, ReadOnlySpan<int> counts, GradientFormat format) => Calls = Calls with { AllGathers = Calls.AllGathers + 1 };

        public double AllReduceSum(double value)
        {
            Calls = Calls with { Sums = Calls.Sums + 1 };
            return value;
        }

        public double AllReduceMax(double value)
        {
            Calls = Calls with { Maxima = Calls.Maxima + 1 };
            return value;
        }

        public void Dispose()
        {
        }
    }
}
