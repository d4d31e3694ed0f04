namespace Grokfast.Kernels.Distributed;

/// <summary>
/// The rank and world size a launcher gives a process in its environment: <c>mpirun</c>'s <c>OMPI_COMM_WORLD_RANK</c>
/// and <c>OMPI_COMM_WORLD_SIZE</c>, or <c>torchrun</c>'s <c>RANK</c> and <c>WORLD_SIZE</c>.
/// </summary>
public static class LaunchEnvironment
{
    /// <summary>
    /// The rank and world size in <paramref name="environment"/> (the process's when null), or null when no launcher set
    /// them. A value that is not a number, a world size below 1 or a rank outside [0, size) throws
    /// <see cref="InvalidOperationException"/> naming the variable.
    /// </summary>
    public static (int Rank, int WorldSize)? Read(IReadOnlyDictionary<string, string?>? environment = null)
    {
        string? Get(string name) => Variable(environment, name);
        foreach ((string rankName, string sizeName) in new[] { ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("RANK", "WORLD_SIZE") })
        {
            string? rankText = Get(rankName), sizeText = Get(sizeName);
            if (rankText is null && sizeText is null) continue;
            int size = Parse(sizeName, sizeText, minimum: 1, limit: int.MaxValue);
            int rank = Parse(rankName, rankText, minimum: 0, limit: size - 1);
            return (rank, size);
        }
        return null;
    }

    /// <summary>
    /// This process's rank among those on its machine — the GPU it should take: <c>mpirun</c>'s
    /// <c>OMPI_COMM_WORLD_LOCAL_RANK</c> or <c>torchrun</c>'s <c>LOCAL_RANK</c>; 0 when neither is set.
    /// </summary>
    public static int LocalRank(IReadOnlyDictionary<string, string?>? environment = null)
    {
        foreach (string name in new[] { "OMPI_COMM_WORLD_LOCAL_RANK", "LOCAL_RANK" })
        {
            if (Variable(environment, name) is string text) return Parse(name, text, minimum: 0, limit: int.MaxValue);
        }
        return 0;
    }

    /// <summary>Variable <paramref name="name"/> of <paramref name="environment"/>, or of the process's when that is null.</summary>
    internal static string? Variable(IReadOnlyDictionary<string, string?>? environment, string name) =>
        environment is null ? Environment.GetEnvironmentVariable(name) : environment.GetValueOrDefault(name);

    private static int Parse(string name, string? text, int minimum, int limit)
    {
        if (text is null)
            throw new InvalidOperationException($"The launcher set the rank or the world size but not {name}.");
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int value) || value < minimum || value > limit)
            throw new InvalidOperationException($"{name}={text} is out of range: it must be a whole number in [{minimum}, {limit}].");
        return value;
    }
}
