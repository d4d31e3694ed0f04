using Grokfast.Kernels.Distributed;
using System.Diagnostics;
using Grokfast.Filters;
using Grokfast.Optim;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bench.Grokking;

/// <summary>
/// The paper's training loop (its main.py), step for step: each epoch shuffles the training half and
/// walks it in batches of 512; per batch, forward, cross-entropy on the answer, <c>backward()</c>, the
/// filter, Adam (lr 1e-3, betas 0.9/0.98) and a linear warm-up of the learning rate over the first ten
/// updates; after each epoch, loss and accuracy on the whole validation half. The filter and Adam run fused in one
/// pass (<see cref="GrokfastAdam"/>) or as the filter's step followed by TorchSharp's Adam (<see cref="GrokOptimizer"/>).
/// The model and the optimizer run in float32, bfloat16 or float16: the fused optimizer then keeps float32 master weights;
/// TorchSharp's Adam keeps its moments in the model's dtype. Losses and accuracies are read in float32.
/// </summary>
internal static class GrokTrainer
{
    public const int BatchSize = 512;
    public const double LearningRate = 1e-3;

    /// <summary>
    /// Runs <paramref name="settings"/> with <paramref name="seed"/> as <paramref name="session"/> says, and reports each
    /// epoch's evaluation to <paramref name="onEvaluation"/>; with <see cref="GrokSession.StopAt"/> the run ends after the
    /// first epoch whose validation accuracy reaches it.
    /// </summary>
    public static GrokRunResult Run(GrokRunSettings settings, int seed, GrokSession session, Action<GrokEvaluation> onEvaluation)
    {
        (Device device, GrokOptimizer path, ScalarType dtype) = (session.Device, session.Optimizer, session.Dtype);
        using var outer = torch.NewDisposeScope();
        // Same seed, so every run starts from the same weights and the same split, as the paper's runs do.
        torch.manual_seed(seed);
        // Initialised in float32, then converted, as a TorchSharp user converts a model (TorchSharp has no autocast).
        using var model = new GrokkingTransformer(ModularMultiplication.VocabularyOf(session.Modulus), session.Width).to(device).to(dtype);
        using var data = new ModularMultiplication(device, session.Modulus);
        using optim.Optimizer optimizer = path == GrokOptimizer.Fused
            ? new GrokfastAdam(model, LearningRate, beta1: 0.9, beta2: 0.98, weight_decay: settings.WeightDecay, grokfast: settings.Filter?.Fused())
            {
                communicator = session.Sharded ? null : session.Ranks,
                shard_over = session.Sharded ? session.Ranks : null,
            }
            : torch.optim.Adam(model.parameters(), LearningRate, beta1: 0.9, beta2: 0.98, weight_decay: settings.WeightDecay);
        // The paper's schedule: factor update/10 for the first ten updates (0 for the very first), then 1.
        var warmup = torch.optim.lr_scheduler.LambdaLR(optimizer, update => update > 10 ? 1.0 : update / 10.0);
        using GradientFilter? filter = path == GrokOptimizer.Torch ? settings.Filter?.Create(model) : null;

        var evaluations = new List<GrokEvaluation>();
        int stepsPerEpoch = (int)((data.TrainCount + BatchSize - 1) / BatchSize);
        int epochs = (settings.Steps + stepsPerEpoch - 1) / stepsPerEpoch;
        int step = 0;
        bool stoppedEarly = false;
        long optimizerTicks = 0, stepTicks = 0;
        var clock = Stopwatch.StartNew();
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            model.train();
            double lossSum = 0, correct = 0;
            using (var epochScope = torch.NewDisposeScope())
            {
                Tensor order = torch.randperm(data.TrainCount, device: device);
                Tensor inputs = data.TrainInputs.index_select(1, order);
                Tensor labels = data.TrainLabels.index_select(0, order);
                for (long start = 0; start < data.TrainCount; start += BatchSize)
                {
                    using var batchScope = torch.NewDisposeScope();
                    long length = Math.Min(BatchSize, data.TrainCount - start);
                    long stepStart = Stopwatch.GetTimestamp();
                    (long first, long count) = SliceOf(session.Ranks, start, length);
                    Tensor logits = model.forward(inputs.narrow(1, first, count))[-1];
                    Tensor batchLabels = labels.narrow(0, first, count);
                    // Data parallel, each rank's loss is its slice's sum over the whole batch's length, times the ranks:
                    // their average, which the optimizer takes of the gradients, is the batch's mean loss's gradient.
                    Tensor loss = session.Ranks is { } group
                        ? functional.cross_entropy(logits, batchLabels, reduction: Reduction.Sum) * (group.WorldSize / (double)length)
                        : functional.cross_entropy(logits, batchLabels);
                    optimizer.zero_grad();
                    loss.backward();
                    long optimizerStart = Stopwatch.GetTimestamp();
                    filter?.step();
                    optimizer.step();
                    optimizerTicks += Stopwatch.GetTimestamp() - optimizerStart;
                    warmup.step();
                    stepTicks += Stopwatch.GetTimestamp() - stepStart;
                    step++;
                    lossSum += loss.to(ScalarType.Float32).item<float>() * length / (session.Ranks?.WorldSize ?? 1);
                    correct += logits.argmax(-1).eq(batchLabels).sum().item<long>();
                }
            }
            if (session.Ranks is { } ranks) (lossSum, correct) = SumOverRanks(ranks, lossSum, correct);
            (double validLoss, double validAccuracy) = Evaluate(model, data);
            var evaluation = new GrokEvaluation(settings.Name, step, epoch, lossSum / data.TrainCount, correct / data.TrainCount,
                validLoss, validAccuracy, clock.Elapsed.TotalSeconds);
            evaluations.Add(evaluation);
            onEvaluation(evaluation);
            if (session.StopAt is double target && validAccuracy >= target && epoch < epochs)
            {
                stoppedEarly = true;
                break;
            }
        }
        clock.Stop();

        return new GrokRunResult(settings, seed, stoppedEarly, step,
            evaluations.FirstOrDefault(e => e.ValidAccuracy >= 0.95)?.Step,
            evaluations.FirstOrDefault(e => e.TrainAccuracy >= 0.99)?.Step,
            evaluations[^1].TrainAccuracy, evaluations[^1].ValidAccuracy, clock.Elapsed.TotalSeconds,
            path, dtype, stepTicks == 0 ? 0 : (double)optimizerTicks / stepTicks,
            MillisecondsPerStep(stepTicks, step),
            MillisecondsPerStep(optimizerTicks, step),
            evaluations);
    }

    /// <summary>This rank's rows of the batch [start, start + length): the whole batch for one process.</summary>
    private static (long First, long Count) SliceOf(ICommunicator? ranks, long start, long length)
    {
        if (ranks is null) return (start, length);
        long first = start + length * ranks.Rank / ranks.WorldSize, end = start + length * (ranks.Rank + 1) / ranks.WorldSize;
        return (first, end - first);
    }

    // The epoch's loss and hits, summed over every rank's slices.
    private static unsafe (double, double) SumOverRanks(ICommunicator ranks, double loss, double correct)
    {
        double* both = stackalloc double[] { loss, correct };
        ranks.AllReduceSum((nint)both, 2, Kernels.Backends.GradientFormat.Float64);
        return (both[0], both[1]);
    }

    /// <summary>Stopwatch ticks per step in milliseconds, unrounded (a TimeSpan would round to 100 ns, and the share to ~1e-4 on a 1 ms step).</summary>
    private static double MillisecondsPerStep(long ticks, int steps) => ticks * 1000.0 / Stopwatch.Frequency / Math.Max(1, steps);

    private static (double Loss, double Accuracy) Evaluate(GrokkingTransformer model, ModularMultiplication data)
    {
        model.eval();
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        double lossSum = 0, correct = 0;
        for (long start = 0; start < data.ValidCount; start += BatchSize)
        {
            long length = Math.Min(BatchSize, data.ValidCount - start);
            Tensor logits = model.forward(data.ValidInputs.narrow(1, start, length))[-1];
            Tensor labels = data.ValidLabels.narrow(0, start, length);
            lossSum += functional.cross_entropy(logits, labels).to(ScalarType.Float32).item<float>() * length;
            correct += logits.argmax(-1).eq(labels).sum().item<long>();
        }
        return (lossSum / data.ValidCount, correct / data.ValidCount);
    }
}
