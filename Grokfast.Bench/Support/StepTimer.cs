namespace Grokfast.Bench.Support;

/// <summary>Times operations repeatedly, with untimed preparation before each run, and reports medians.</summary>
internal static class StepTimer
{
    /// <summary>The median of <paramref name="runs"/> timed runs of <paramref name="operation"/>.</summary>
    public static double MedianMilliseconds(Action operation, Action prepare, int warmup = 3, int runs = 15) =>
        MedianMilliseconds([new TimedOperation(operation, prepare)], warmup, runs)[0];

    /// <summary>
    /// Medians for several operations timed in turn — one run of each per round — so that a noisy neighbour or
    /// a change of clock speed slows all of them alike and the ratios between them hold.
    /// </summary>
    public static double[] MedianMilliseconds(IReadOnlyList<TimedOperation> operations, int warmup = 3, int runs = 15)
    {
        for (int i = 0; i < warmup; i++)
        {
            foreach (TimedOperation o in operations) o.Time();
        }
        var times = new double[operations.Count][];
        for (int k = 0; k < operations.Count; k++) times[k] = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            for (int k = 0; k < operations.Count; k++) times[k][i] = operations[k].Time();
        }
        return times.Select(t => t.Order().ElementAt(runs / 2)).ToArray();
    }
}
