namespace Grokfast.Bench.Grokking;

/// <summary>
/// One run's steps to 95 % validation accuracy over several seeds: how many reached it within the budget, the median
/// (a seed that did not reach it counts as later than every one that did, so the median exists while at least half
/// reached it) and the range of those that did.
/// </summary>
/// <param name="Name">The run.</param>
/// <param name="Seeds">Seeds run.</param>
/// <param name="Reached">Seeds that reached 95 % within the budget.</param>
/// <param name="Median">The median steps to 95 %, or null when fewer than half the seeds reached it (or, for an even count, exactly half).</param>
/// <param name="Fastest">The fewest steps any seed took, or null when none reached it.</param>
/// <param name="Slowest">The most steps a seed that reached it took, or null when none did.</param>
/// <param name="Budget">The largest step budget of any seed (what "not reached" means), whether or not a run stopped early.</param>
internal sealed record GrokSeedSummary(string Name, int Seeds, int Reached, double? Median, int? Fastest, int? Slowest, int Budget)
{
    /// <summary>The summary of one run's results over its seeds: a run that stopped early still had its whole budget.</summary>
    public static GrokSeedSummary Of(string name, IEnumerable<GrokRunResult> results) =>
        Of(name, results.Select(r => (r.StepsTo95Valid, Math.Max(r.StepsRun, r.Settings.Steps))).ToList());

    /// <summary>The summary of <paramref name="name"/>'s seeds, from each seed's steps to 95 % (null: not reached) and budget.</summary>
    public static GrokSeedSummary Of(string name, IReadOnlyList<(int? StepsTo95, int Budget)> seeds)
    {
        ArgumentOutOfRangeException.ThrowIfZero(seeds.Count);
        int[] reached = seeds.Where(s => s.StepsTo95 is not null).Select(s => s.StepsTo95!.Value).Order().ToArray();
        // Unreached seeds sort after every reached one: the median is defined when its rank(s) fall among the reached.
        int n = seeds.Count;
        double? median = null;
        if (n % 2 == 1 && reached.Length > n / 2) median = reached[n / 2];
        else if (n % 2 == 0 && reached.Length > n / 2) median = (reached[n / 2 - 1] + reached[n / 2]) / 2.0;
        return new GrokSeedSummary(name, n, reached.Length, median,
            reached.Length > 0 ? reached[0] : null, reached.Length > 0 ? reached[^1] : null, seeds.Max(s => s.Budget));
    }
}
