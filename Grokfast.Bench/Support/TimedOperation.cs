using System.Diagnostics;

namespace Grokfast.Bench.Support;

/// <summary>An operation to time and what must happen, untimed, before each run of it.</summary>
internal sealed record TimedOperation(Action Operation, Action Prepare)
{
    /// <summary>Prepares, then times one run.</summary>
    public double Time()
    {
        Prepare();
        long start = Stopwatch.GetTimestamp();
        Operation();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
}
