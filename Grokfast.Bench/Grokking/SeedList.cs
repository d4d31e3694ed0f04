using System.Globalization;

namespace Grokfast.Bench.Grokking;

/// <summary>The <c>--seeds</c> option's value: seeds and ranges of seeds, comma-separated (<c>0,1,2</c>, <c>0-4</c>, <c>0-2,7</c>).</summary>
internal static class SeedList
{
    /// <summary>The most seeds one session takes: every seed is a full run of every selected filter.</summary>
    public const int MaxSeeds = 1000;

    /// <summary>The seeds <paramref name="text"/> lists, in its order; <see cref="FormatException"/> naming the part that is wrong.</summary>
    public static IReadOnlyList<int> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var seeds = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Length == 0) throw new FormatException($"--seeds '{text}': an empty entry; list seeds like 0,1,2 or ranges like 0-4.");
            int dash = part.IndexOf('-', 1);
            int first = Seed(dash < 0 ? part : part[..dash], text);
            int last = dash < 0 ? first : Seed(part[(dash + 1)..], text);
            if (last < first) throw new FormatException($"--seeds '{text}': the range '{part}' runs backwards.");
            if (seeds.Count + (long)(last - first) + 1 > MaxSeeds) throw new FormatException($"--seeds '{text}': more than {MaxSeeds} seeds.");
            for (int s = first; s <= last; s++)
            {
                if (seeds.Contains(s)) throw new FormatException($"--seeds '{text}': seed {s} is listed twice.");
                seeds.Add(s);
            }
        }
        return seeds;
    }

    private static int Seed(string token, string text) =>
        int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out int seed)
            ? seed
            : throw new FormatException($"--seeds '{text}': '{token}' is not a seed (a whole number from 0 to {int.MaxValue}).");
}
