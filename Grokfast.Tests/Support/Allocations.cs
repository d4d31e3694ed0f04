namespace Grokfast.Tests.Support;

/// <summary>Managed bytes an action allocates on every thread of the process, the OpenMP team's included.</summary>
internal static class Allocations
{
    /// <summary>
    /// The fewest bytes the process allocated while <paramref name="action"/> ran, over three runs: an allocation of
    /// the action's own shows every time, one by the test runner's threads at most now and then. Call it from a
    /// test that runs alone (<see cref="ProcessWideCounters"/>).
    /// </summary>
    public static long During(Action action)
    {
        long fewest = long.MaxValue;
        for (int run = 0; run < 3; run++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            action();
            fewest = Math.Min(fewest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        return fewest;
    }
}
