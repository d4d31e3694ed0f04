using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Distributed;
using Grokfast.Kernels.Engine;
using Grokfast.Optim;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Support;

/// <summary>
/// One rank of a data-parallel run under <c>mpirun</c> (the test executable started with <see cref="Verb"/>), and the
/// single-process run it is compared with: the linear <see cref="TinyMlp"/> trained by EMA + AdamW with clipping, each
/// rank on its part of a 48-row batch (or on all of it), its weights, norms and skips written to a file per rank.
/// </summary>
internal static class MpiTraining
{
    public const string Verb = "mpi-train";
    public const int Steps = 12;
    public const int NaNStep = 3;
    private const int Rows = 48;

    /// <summary>What one run ends with: the weights, each step's norm and skip, and the length of the rank's Adam state.</summary>
    public sealed record Outcome(float[] Weights, double[] Norms, bool[] Skipped, long StateLength);

    /// <summary>
    /// The rank's run of <paramref name="scenario"/>, its outcome written under <paramref name="folder"/>: duplicated (every
    /// rank on the whole batch), split (each on its part), nan; a zero- prefix shards the state (ZeRO-1) instead of
    /// averaging whole buffers, -noclip turns clipping off, -ma filters with the windowed mean (a ring of 5 slots) instead
    /// of the EMA, -bf16 trains in bfloat16 (with float32 master weights), -add starts with the weights' group and adds
    /// the biases' half-way (add_param_group), -ts saves and resumes through TorchSharp's state_dict format instead of the
    /// optimizer's checkpoint, a -save suffix saves a checkpoint (and rank 0 the weights)
    /// half-way, a -resume suffix starts from them and runs the second half; collectives checks the communicator alone.
    /// </summary>
    public static int Run(string scenario, string folder)
    {
        using MpiCommunicator world = MpiCommunicator.World();
        string path = Path.Combine(folder, $"rank{world.Rank}.bin");
        if (scenario == "collectives")
        {
            WriteCollectives(world, path);
            return 0;
        }
        Outcome outcome = Train(world, world.Rank, world.WorldSize, scenario, folder);
        using var writer = new BinaryWriter(File.Create(path));
        Write(writer, outcome);
        return 0;
    }

    /// <summary>
    /// Trains on rank <paramref name="rank"/>'s part of the batch (all of it for duplicated, or with no communicator);
    /// in the nan scenarios the last rank's gradient holds a NaN at step <see cref="NaNStep"/>.
    /// </summary>
    public static Outcome Train(ICommunicator? communicator, int rank, int worldSize, string scenario, string? folder = null)
    {
        bool sharded = scenario.StartsWith("zero-", StringComparison.Ordinal), clipped = !scenario.Contains("-noclip", StringComparison.Ordinal);
        bool saves = scenario.EndsWith("-save", StringComparison.Ordinal), resumes = scenario.EndsWith("-resume", StringComparison.Ordinal);
        bool windowed = scenario.Contains("-ma", StringComparison.Ordinal), bfloat16 = scenario.Contains("-bf16", StringComparison.Ordinal);
        bool adds = scenario.Contains("-add", StringComparison.Ordinal), torchSharpFormat = scenario.Contains("-ts", StringComparison.Ordinal);
        scenario = scenario.Replace("zero-", "", StringComparison.Ordinal).Replace("-noclip", "", StringComparison.Ordinal).Replace("-ma", "", StringComparison.Ordinal)
            .Replace("-bf16", "", StringComparison.Ordinal).Replace("-add", "", StringComparison.Ordinal).Replace("-ts", "", StringComparison.Ordinal)
            .Replace("-save", "", StringComparison.Ordinal).Replace("-resume", "", StringComparison.Ordinal);
        ScalarType dtype = bfloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var model = TinyMlp.CreateLinear();
        model.to(dtype);
        (Tensor x, Tensor y) = TinyMlp.Data();
        bool whole = scenario == "duplicated" || communicator is null;
        long first = whole ? 0 : rank * (Rows / worldSize), rows = whole ? Rows : Rows / worldSize;
        using Tensor xs = x.narrow(0, first, rows).to(dtype), ys = y.narrow(0, first, rows).to(dtype);
        Parameter[] parameters = [.. model.parameters()];
        var biases = new FusedAdamOptimizer.ParamGroup([parameters[1], parameters[3]], weight_decay: 0.0);
        using var optimizer = new GrokfastAdamW([new FusedAdamOptimizer.ParamGroup([parameters[0], parameters[2]], weight_decay: 0.1), .. adds ? [] : new[] { biases }],
            lr: 1e-2, grokfast: windowed ? GrokfastFilter.WindowedMean(window_size: 5, lamb: 2.0) : GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0))
        {
            max_grad_norm = clipped ? 0.5 : null,
        };
        if (sharded) optimizer.shard_over = communicator;
        else optimizer.communicator = communicator;
        var norms = new double[Steps];
        var skipped = new bool[Steps];
        string checkpoint = Path.Combine(folder ?? ".", "checkpoint.gfst"), weights = Path.Combine(folder ?? ".", "weights.bin");
        if (resumes)
        {
            using (var reader = new BinaryReader(File.OpenRead(weights)))
                TinyMlp.Load(parameters, [.. Enumerable.Range(0, reader.ReadInt32()).Select(_ => reader.ReadSingle())]);
            if (torchSharpFormat) optimizer.load_state_dict(checkpoint);
            else optimizer.load(checkpoint);
        }
        for (int step = resumes ? Steps / 2 : 0; step < Steps; step++)
        {
            if (saves && step == Steps / 2)
            {
                // Every rank takes part in gathering sharded state; one writes the file.
                if (torchSharpFormat) optimizer.save_state_dict(rank == 0 ? checkpoint : "/dev/null");
                else optimizer.save(checkpoint);
                if (rank == 0)
                {
                    float[] now = TinyMlp.Flatten(parameters);
                    using var writer = new BinaryWriter(File.Create(weights));
                    writer.Write(now.Length);
                    foreach (float w in now) writer.Write(w);
                }
            }
            if (adds && step == Steps / 2) optimizer.add_param_group(biases);
            optimizer.zero_grad();
            TinyMlp.Backward(model, xs, ys);
            if (scenario == "nan" && step == NaNStep && rank == worldSize - 1)
            {
                using (torch.no_grad()) parameters[2].grad![0, 0] = float.NaN;
            }
            optimizer.step();
            using Tensor norm = optimizer.grad_norm();
            norms[step] = norm.item<double>();
            skipped[step] = optimizer.LastStepSkipped;
        }
        using Tensor moments = optimizer.state()["exp_avg"];
        return new Outcome(TinyMlp.Flatten(parameters), norms, skipped, moments.numel());
    }

    /// <summary>Reads what a rank wrote.</summary>
    public static Outcome Read(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        float[] weights = new float[reader.ReadInt32()];
        for (int i = 0; i < weights.Length; i++) weights[i] = reader.ReadSingle();
        double[] norms = new double[reader.ReadInt32()];
        for (int i = 0; i < norms.Length; i++) norms[i] = reader.ReadDouble();
        bool[] skipped = new bool[reader.ReadInt32()];
        for (int i = 0; i < skipped.Length; i++) skipped[i] = reader.ReadBoolean();
        return new Outcome(weights, norms, skipped, reader.ReadInt64());
    }

    /// <summary>What the collectives' run of a rank wrote: results of each format, and the scalar sum and max.</summary>
    public sealed record CollectivesResult(
        float[] AllReduced, float[] Scattered, double[] Gathered, double Sum, double Max,
        float[] BFloat16AllReduced, float[] BFloat16Scattered, float[] Float16AllReduced, float[] Float16Scattered);

    /// <summary>Reads the collectives' results a rank wrote.</summary>
    public static CollectivesResult ReadCollectives(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        float[] ReadFloats() => Enumerable.Range(0, reader.ReadInt32()).Select(_ => reader.ReadSingle()).ToArray();
        float[] allReduced = ReadFloats(), scattered = ReadFloats();
        double[] gathered = Enumerable.Range(0, reader.ReadInt32()).Select(_ => reader.ReadDouble()).ToArray();
        double sum = reader.ReadDouble(), max = reader.ReadDouble();
        return new CollectivesResult(allReduced, scattered, gathered, sum, max, ReadFloats(), ReadFloats(), ReadFloats(), ReadFloats());
    }

    /// <summary>Rank r's values for the collectives' test: element i of its buffer is (r + 1) · (i + 1).</summary>
    public static float Value(int rank, int index) => (rank + 1) * (index + 1);

    /// <summary>The blocks of the reduce-scatter and the all-gather: rank r's holds r + 3 elements, so no two are alike.</summary>
    public static int[] Blocks(int worldSize) => [.. Enumerable.Range(0, worldSize).Select(r => r + 3)];

    // Each collective on buffers whose every element tells which rank and place it came from.
    private static unsafe void WriteCollectives(MpiCommunicator world, string path)
    {
        int[] blocks = Blocks(world.WorldSize);
        int total = blocks.Sum(), start = blocks.Take(world.Rank).Sum();
        float[] reduced = Enumerable.Range(0, total).Select(i => Value(world.Rank, i)).ToArray();
        float[] scatterSource = (float[])reduced.Clone();
        float[] scattered = new float[blocks[world.Rank]];
        double[] gathered = Enumerable.Range(0, total).Select(i => i >= start && i < start + blocks[world.Rank] ? 100.0 * world.Rank + (i - start) : -1).ToArray();
        fixed (float* r = reduced, s = scatterSource, o = scattered)
        fixed (double* g = gathered)
        {
            world.AllReduceSum((nint)r, reduced.Length, GradientFormat.Float32);
            world.ReduceScatterSum((nint)s, (nint)o, blocks, GradientFormat.Float32);
            world.AllGatherInPlace((nint)g, blocks, GradientFormat.Float64);
        }
        double sum = world.AllReduceSum(world.Rank * 1.5), max = world.AllReduceMax(world.Rank * 1.5);
        using var writer = new BinaryWriter(File.Create(path));
        WriteFloats(writer, reduced);
        WriteFloats(writer, scattered);
        writer.Write(gathered.Length);
        foreach (double v in gathered) writer.Write(v);
        writer.Write(sum);
        writer.Write(max);
        foreach ((float[] allReduced16, float[] scattered16) in new[] { Collectives16<BFloat16Format>(world, GradientFormat.BFloat16, blocks), Collectives16<Float16Format>(world, GradientFormat.Float16, blocks) })
        {
            WriteFloats(writer, allReduced16);
            WriteFloats(writer, scattered16);
        }
    }

    // The all-reduce and the reduce-scatter of a 16-bit format, on values whose sums every format holds exactly (an
    // integer sum of the bit patterns would not be one of them); the results widened.
    private static unsafe (float[] AllReduced, float[] Scattered) Collectives16<TFormat>(MpiCommunicator world, GradientFormat format, int[] blocks)
        where TFormat : IGradientFormat<ushort>
    {
        ushort[] reduced = Enumerable.Range(0, blocks.Sum()).Select(i => TFormat.Narrow(Value(world.Rank, i))).ToArray();
        ushort[] scatterSource = (ushort[])reduced.Clone();
        ushort[] scattered = new ushort[blocks[world.Rank]];
        fixed (ushort* r = reduced, s = scatterSource, o = scattered)
        {
            world.AllReduceSum((nint)r, reduced.Length, format);
            world.ReduceScatterSum((nint)s, (nint)o, blocks, format);
        }
        return ([.. reduced.Select(TFormat.Widen)], [.. scattered.Select(TFormat.Widen)]);
    }

    private static void WriteFloats(BinaryWriter writer, float[] values)
    {
        writer.Write(values.Length);
        foreach (float v in values) writer.Write(v);
    }

    private static void Write(BinaryWriter writer, Outcome outcome)
    {
        writer.Write(outcome.Weights.Length);
        foreach (float w in outcome.Weights) writer.Write(w);
        writer.Write(outcome.Norms.Length);
        foreach (double v in outcome.Norms) writer.Write(v);
        writer.Write(outcome.Skipped.Length);
        foreach (bool s in outcome.Skipped) writer.Write(s);
        writer.Write(outcome.StateLength);
    }
}
