using System.Diagnostics;

namespace Grokfast.Bench.Support;

/// <summary>Times one operation repeatedly, with untimed preparation before each run, and reports the median.</summary>
internal static class StepTimer
{
    public static double MedianMilliseconds(Action operation, Action prepare, int warmup = 3, int runs = 15)
    {
        for (int i = 0; i < warmup; i++)
        {
            prepare();
            operation();
        }
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            prepare();
            long start = Stopwatch.GetTimestamp();
            operation();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[runs / 2];
    }
}
