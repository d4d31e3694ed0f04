using Grokfast.Bench.Support;

namespace Grokfast.Bench.Grokking;

/// <summary>The <c>grok --filter</c> value: <c>all</c>, or a comma-separated list of <c>none</c> (the baseline), <c>ema</c>, <c>ma</c>, <c>kalman</c>.</summary>
internal static class RunSelection
{
    /// <summary>The words the list may hold.</summary>
    public static IReadOnlyList<string> Choices { get; } = ["none", .. FilterChoice.Kinds, "all"];

    /// <summary>
    /// The runs of <paramref name="runs"/> that <paramref name="text"/> selects, in <paramref name="runs"/>' order;
    /// <see cref="FormatException"/> naming the entry that is wrong.
    /// </summary>
    public static IReadOnlyList<GrokRunSettings> Select(string text, IReadOnlyList<GrokRunSettings> runs)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(runs);
        string[] entries = text.Split(',', StringSplitOptions.TrimEntries);
        foreach (string entry in entries)
        {
            if (!Choices.Contains(entry))
                throw new FormatException($"--filter '{text}': '{entry}' is not a run; list some of {string.Join(", ", Choices)}, comma-separated.");
            if (entry == "all" && entries.Length > 1) throw new FormatException($"--filter '{text}': 'all' stands alone.");
        }
        if (entries.Distinct().Count() < entries.Length) throw new FormatException($"--filter '{text}': a run is listed twice.");
        return runs.Where(r => entries.Contains("all") || entries.Contains(r.FilterKind)).ToList();
    }
}
