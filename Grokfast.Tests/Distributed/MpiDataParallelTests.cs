using Grokfast.Kernels.Distributed;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Distributed;

/// <summary>
/// Data-parallel training over Open MPI: ranks started by <c>mpirun</c> (this executable, <see cref="MpiTraining"/>)
/// against the single-process run on the same global batch. A collective that did nothing would leave each rank
/// training on its own part of the batch: the split runs would part from the single-process run and from each other.
/// </summary>
[Collection(nameof(ChildProcesses))]
public sealed class MpiDataParallelTests
{
    [MpiFact]
    public void TwoRanks_OnTheSameBatch_MatchTheSingleProcessRunBitForBit()
    {
        MpiTraining.Outcome single = MpiTraining.Train(null, 0, 1, "duplicated");

        MpiTraining.Outcome[] ranks = RunRanks(2, "duplicated");

        // Each rank's gradient is the whole batch's, so the average (g + g) / 2 is exact.
        Assert.All(ranks, rank =>
        {
            Assert.Equal(single.Weights, rank.Weights);
            Assert.Equal(single.Norms, rank.Norms);
        });
    }

    [MpiFact]
    public void TwoAndThreeRanks_EachOnItsPart_AgreeBitForBit_AndMatchTheSingleProcessRun()
    {
        MpiTraining.Outcome single = MpiTraining.Train(null, 0, 1, "split");

        foreach (int worldSize in new[] { 2, 3 })
        {
            MpiTraining.Outcome[] ranks = RunRanks(worldSize, "split");

            Assert.All(ranks, rank =>
            {
                Assert.Equal(ranks[0].Weights, rank.Weights);
                Assert.Equal(ranks[0].Norms, rank.Norms);
            });
            // The mean of the parts' means is the batch's mean up to rounding (a few ulps of each gradient); through
            // clipping, the filter and AdamW over 12 steps that stays below 1e-5 of the weights (which move by ~1e-1).
            Assert.Equal(single.Weights, ranks[0].Weights, (a, b) => Math.Abs(a - b) <= 1e-5f);
            Assert.Equal(single.Norms, ranks[0].Norms, (a, b) => Math.Abs(a - b) <= 1e-6 + 1e-5 * Math.Abs(a));
            // Clipping is on (limit 0.5) and binds at the first steps.
            Assert.True(single.Norms[0] > 0.5, $"the first norm is {single.Norms[0]}");
        }
    }

    [MpiFact]
    public void NaNOnOneRank_SkipsTheStepOnEveryRank()
    {
        MpiTraining.Outcome[] ranks = RunRanks(2, "nan");

        Assert.All(ranks, rank =>
        {
            Assert.Equal(Enumerable.Range(0, MpiTraining.Steps).Select(step => step == MpiTraining.NaNStep), rank.Skipped);
            Assert.Equal(ranks[0].Weights, rank.Weights);
            Assert.True(double.IsNaN(rank.Norms[MpiTraining.NaNStep]));
        });
    }

    [MpiFact]
    public void ZeroOne_OnTwoRanks_StepsHalfTheStateEach_AndMatchesReplicatedDataParallelBitForBit()
    {
        MpiTraining.Outcome[] replicated = RunRanks(2, "split-noclip");
        MpiTraining.Outcome[] sharded = RunRanks(2, "zero-split-noclip");

        // Two ranks' sums are the same either way (a + b = b + a), and the step is elementwise.
        Assert.All(sharded, rank => Assert.Equal(replicated[0].Weights, rank.Weights));
        // 344 parameters in two buffers of 310 and 34 elements: 155 + 17 on each rank.
        Assert.Equal(344, replicated[0].StateLength);
        Assert.All(sharded, rank => Assert.Equal(172, rank.StateLength));
    }

    [MpiFact]
    public void ZeroOne_AParamGroupAddedHalfWay_OnTwoRanks_CarriesEachRanksStateOver_AsOneProcessDoes()
    {
        // The windowed mean: its ring of five slots per block is the state most laid out; the second rank's blocks start
        // inside each buffer.
        MpiTraining.Outcome single = MpiTraining.Train(null, 0, 1, "duplicated-ma-noclip-add");

        MpiTraining.Outcome[] ranks = RunRanks(2, "zero-duplicated-ma-noclip-add");

        Assert.All(ranks, rank => Assert.Equal(single.Weights, rank.Weights));
        Assert.All(ranks, rank => Assert.Equal(172, rank.StateLength));
    }

    [MpiFact]
    public void BFloat16_ReplicatedAndZeroOne_OnTwoRanks_MatchTheSingleProcessRunBitForBit_WhereTheAverageIsExact()
    {
        MpiTraining.Outcome clipped = MpiTraining.Train(null, 0, 1, "duplicated-bf16");
        MpiTraining.Outcome unclipped = MpiTraining.Train(null, 0, 1, "duplicated-bf16-noclip");

        MpiTraining.Outcome[] replicated = RunRanks(2, "duplicated-bf16");
        MpiTraining.Outcome[] sharded = RunRanks(2, "zero-duplicated-bf16-noclip");

        // (g + g) / 2 in bfloat16 is g: summed in float32 and rounded once, then halved, both exact. (A sum of the bit
        // patterns as integers, or none, would not give g.) The sharded step, its masters split too, is the same step.
        Assert.All(replicated, rank => Assert.Equal(clipped.Weights, rank.Weights));
        Assert.All(sharded, rank => Assert.Equal(unclipped.Weights, rank.Weights));
        Assert.All(sharded, rank => Assert.Equal(172, rank.StateLength));
        Assert.NotEqual(clipped.Weights, unclipped.Weights);
    }

    [MpiFact]
    public void BFloat16_EachRankOnItsPart_ZeroOneMatchesReplicatedDataParallelBitForBit()
    {
        MpiTraining.Outcome single = MpiTraining.Train(null, 0, 1, "split-bf16-noclip");

        MpiTraining.Outcome[] replicated = RunRanks(2, "split-bf16-noclip");
        MpiTraining.Outcome[] sharded = RunRanks(2, "zero-split-bf16-noclip");

        Assert.All([.. replicated, .. sharded], rank => Assert.Equal(replicated[0].Weights, rank.Weights));
        // The parts' gradients rounded to bfloat16 before their average: near the single process's, not equal to it.
        Assert.NotEqual(single.Weights, replicated[0].Weights);
        Assert.Equal(single.Weights, replicated[0].Weights, (a, b) => Math.Abs(a - b) <= 2e-2f);
    }

    [MpiFact]
    public void ZeroOne_OnThreeRanks_WithClipping_AgreeAcrossRanks_AndMatchTheSingleProcessRun()
    {
        MpiTraining.Outcome single = MpiTraining.Train(null, 0, 1, "split");

        MpiTraining.Outcome[] ranks = RunRanks(3, "zero-split");

        Assert.All(ranks, rank =>
        {
            Assert.Equal(ranks[0].Weights, rank.Weights);
            Assert.Equal(ranks[0].Norms, rank.Norms);
        });
        // As the replicated runs: the batch's mean up to rounding, and the norm summed in another order.
        Assert.Equal(single.Weights, ranks[0].Weights, (a, b) => Math.Abs(a - b) <= 1e-5f);
        Assert.Equal(single.Norms, ranks[0].Norms, (a, b) => Math.Abs(a - b) <= 1e-6 + 1e-5 * Math.Abs(a));
        // 310 / 3 and 34 / 3: 104 + 12, 103 + 11, 103 + 11 — a third each, within one element per buffer.
        Assert.Equal([116L, 114, 114], ranks.Select(r => r.StateLength));
    }

    [MpiFact]
    public void ZeroOne_NaNOnOneRank_SkipsTheStepOnEveryRank_ThroughTheGuardAndThroughTheNorm()
    {
        // The NaN lies in the second rank's block: the first finds it only through the ranks' shared decision.
        MpiTraining.Outcome[] ranks = [.. RunRanks(2, "zero-nan-noclip"), .. RunRanks(2, "zero-nan")];

        Assert.All(ranks, rank =>
        {
            Assert.Equal(Enumerable.Range(0, MpiTraining.Steps).Select(step => step == MpiTraining.NaNStep), rank.Skipped);
        });
        Assert.Equal(ranks[0].Weights, ranks[1].Weights);
        Assert.Equal(ranks[2].Weights, ranks[3].Weights);
    }

    [MpiTheory]
    [InlineData("")]
    [InlineData("-ma")]
    [InlineData("-bf16")]
    [InlineData("-ma-ts")]
    [InlineData("-bf16-ts")]
    public void ZeroOneCheckpoint_SavedByTwoRanks_ResumesInOneProcess_AsTheRunThatNeverStopped(string filter)
    {
        string folder = Directory.CreateTempSubdirectory("grokfast-mpi-").FullName;
        try
        {
            // Both ranks on the whole batch, no clipping: the sharded step is then the single process's, bit for bit. The
            // windowed mean's ring is a buffer of five slots per block; bfloat16 parameters resume from their masters; -ts
            // goes through TorchSharp's save_state_dict and load_state_dict, the state gathered into the snapshot's views.
            MpiTraining.Outcome[] straight = RunRanks(2, $"zero-duplicated{filter}-noclip-save", folder);

            MpiTraining.Outcome resumed = MpiTraining.Train(null, 0, 1, $"duplicated{filter}-noclip-resume", folder);

            Assert.Equal(straight[0].Weights, resumed.Weights);
            Assert.Equal(straight[0].Weights, straight[1].Weights);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [MpiTheory]
    [InlineData("")]
    [InlineData("-ma-ts")]
    public void ZeroOneCheckpoint_SavedByOneProcess_ResumesOnTwoRanks_AsTheRunThatNeverStopped(string variant)
    {
        string folder = Directory.CreateTempSubdirectory("grokfast-mpi-").FullName;
        try
        {
            MpiTraining.Outcome straight = MpiTraining.Train(null, 0, 1, $"duplicated{variant}-noclip-save", folder);

            MpiTraining.Outcome[] resumed = RunRanks(2, $"zero-duplicated{variant}-noclip-resume", folder);

            Assert.All(resumed, rank => Assert.Equal(straight.Weights, rank.Weights));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [MpiFact]
    public void Collectives_OnThreeRanks_SumScatterGatherAndMax_InEveryFormat()
    {
        string folder = Directory.CreateTempSubdirectory("grokfast-mpi-").FullName;
        try
        {
            Launch(3, "collectives", folder);
            int[] blocks = MpiTraining.Blocks(3);
            for (int rank = 0; rank < 3; rank++)
            {
                MpiTraining.CollectivesResult result = MpiTraining.ReadCollectives(Path.Combine(folder, $"rank{rank}.bin"));
                float[] sum = Enumerable.Range(0, blocks.Sum()).Select(i => Enumerable.Range(0, 3).Sum(r => MpiTraining.Value(r, i))).ToArray();
                float[] block = [.. sum.Skip(blocks.Take(rank).Sum()).Take(blocks[rank])];
                Assert.Equal(sum, result.AllReduced);
                Assert.Equal(block, result.Scattered);
                Assert.Equal(Enumerable.Range(0, 3).SelectMany(r => Enumerable.Range(0, blocks[r]).Select(i => 100.0 * r + i)), result.Gathered);
                Assert.Equal(4.5, result.Sum);
                Assert.Equal(3.0, result.Max);
                Assert.Equal(sum, result.BFloat16AllReduced);
                Assert.Equal(block, result.BFloat16Scattered);
                Assert.Equal(sum, result.Float16AllReduced);
                Assert.Equal(block, result.Float16Scattered);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [MpiFact]
    public void ARankWithABadWorldSize_FailsNamingTheVariable()
    {
        string folder = Directory.CreateTempSubdirectory("grokfast-mpi-").FullName;
        try
        {
            (int exitCode, _, string error) = ChildProcess.Run(TestExecutable, [MpiTraining.Verb, "split", folder], TimeSpan.FromMinutes(2),
                new Dictionary<string, string?> { ["OMPI_COMM_WORLD_RANK"] = "2", ["OMPI_COMM_WORLD_SIZE"] = "2" });

            Assert.NotEqual(0, exitCode);
            Assert.Contains("OMPI_COMM_WORLD_RANK=2", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void LaunchEnvironment_OutOfRange_IsRefusedNamingTheVariable()
    {
        var rank = Assert.Throws<InvalidOperationException>(() => LaunchEnvironment.Read(new Dictionary<string, string?> { ["RANK"] = "3", ["WORLD_SIZE"] = "2" }));
        var size = Assert.Throws<InvalidOperationException>(() => LaunchEnvironment.Read(new Dictionary<string, string?> { ["RANK"] = "0", ["WORLD_SIZE"] = "0" }));
        var missing = Assert.Throws<InvalidOperationException>(() => LaunchEnvironment.Read(new Dictionary<string, string?> { ["OMPI_COMM_WORLD_RANK"] = "0" }));

        Assert.Contains("RANK=3", rank.Message, StringComparison.Ordinal);
        Assert.Contains("WORLD_SIZE=0", size.Message, StringComparison.Ordinal);
        Assert.Contains("OMPI_COMM_WORLD_SIZE", missing.Message, StringComparison.Ordinal);
        Assert.Equal((1, 4), LaunchEnvironment.Read(new Dictionary<string, string?> { ["OMPI_COMM_WORLD_RANK"] = "1", ["OMPI_COMM_WORLD_SIZE"] = "4" }));
        Assert.Null(LaunchEnvironment.Read(new Dictionary<string, string?>()));
        Assert.Equal(3, LaunchEnvironment.LocalRank(new Dictionary<string, string?> { ["LOCAL_RANK"] = "3" }));
        Assert.Equal(1, LaunchEnvironment.LocalRank(new Dictionary<string, string?> { ["OMPI_COMM_WORLD_LOCAL_RANK"] = "1", ["LOCAL_RANK"] = "3" }));
        Assert.Equal(0, LaunchEnvironment.LocalRank(new Dictionary<string, string?>()));
        Assert.Contains("LOCAL_RANK=-1", Assert.Throws<InvalidOperationException>(() => LaunchEnvironment.LocalRank(new Dictionary<string, string?> { ["LOCAL_RANK"] = "-1" })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingMpiLibrary_IsNamed()
    {
        var error = Assert.Throws<DllNotFoundException>(() => MpiCommunicator.World("libgrokfast-no-such-mpi.so.40"));

        Assert.Contains("libgrokfast-no-such-mpi.so.40", error.Message, StringComparison.Ordinal);
        Assert.Contains("openmpi-bin", error.Message, StringComparison.Ordinal);
    }

    private static string TestExecutable => Path.Combine(AppContext.BaseDirectory, "Grokfast.Tests");

    private static MpiTraining.Outcome[] RunRanks(int worldSize, string scenario)
    {
        string folder = Directory.CreateTempSubdirectory("grokfast-mpi-").FullName;
        try
        {
            return RunRanks(worldSize, scenario, folder);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static MpiTraining.Outcome[] RunRanks(int worldSize, string scenario, string folder)
    {
        Launch(worldSize, scenario, folder);
        return Enumerable.Range(0, worldSize).Select(rank => MpiTraining.Read(Path.Combine(folder, $"rank{rank}.bin"))).ToArray();
    }

    // One libtorch thread per rank: the ranks share the machine's cores.
    private static void Launch(int worldSize, string scenario, string folder)
    {
        (int exitCode, string output, string error) = ChildProcess.Run(MpiFactAttribute.Mpirun!,
            ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", $"{worldSize}", TestExecutable, MpiTraining.Verb, scenario, folder],
            TimeSpan.FromMinutes(3), new Dictionary<string, string?> { ["OMP_NUM_THREADS"] = "1" });
        Assert.True(exitCode == 0, $"mpirun -np {worldSize} {scenario} exited with {exitCode}:\n{output}\n{error}");
    }
}
