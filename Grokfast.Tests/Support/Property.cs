using System.Globalization;
using System.Security.Cryptography;
using CsCheck;

namespace Grokfast.Tests.Support;

/// <summary>
/// Runs a CsCheck property on inputs that depend on a seed only, so that every run of the suite checks the same inputs
/// and a failure in CI is a defect of the change, not a draw of the dice. The environment chooses otherwise for a long
/// hunt: <c>GROKFAST_PROPERTY_SEED</c> (a number, or <c>fresh</c> for a new one each run) and
/// <c>GROKFAST_PROPERTY_ITERATIONS</c> (inputs per property). A failure names its seed and the input's place in the run,
/// and writes the input's bytes where a test can give them, ready for the committed corpus.
/// </summary>
internal static class Property
{
    /// <summary>The seed CI and a plain <c>dotnet test</c> use.</summary>
    public const ulong DefaultSeed = 20_261_205;

    public const string SeedVariable = "GROKFAST_PROPERTY_SEED", IterationsVariable = "GROKFAST_PROPERTY_ITERATIONS";

    /// <summary>The seed and input count the environment asks for, or the default seed and <paramref name="iterations"/>.</summary>
    public static (ulong Seed, long Iterations) Settings(long iterations, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        ulong seed = environment(SeedVariable) switch
        {
            null or "" => DefaultSeed,
            "fresh" => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong))),
            string text when ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value) => value,
            string text => throw new ArgumentException($"{SeedVariable} must be a whole number or 'fresh', got '{text}'."),
        };
        if (environment(IterationsVariable) is { Length: > 0 } count)
        {
            if (!long.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out iterations) || iterations < 1)
                throw new ArgumentException($"{IterationsVariable} must be a whole number of at least 1, got '{count}'.");
        }
        return (seed, iterations);
    }

    /// <summary>The inputs' own seeds: drawn in order from one generator seeded with <paramref name="seed"/>.</summary>
    public static PCG[] InputGenerators(ulong seed, long iterations)
    {
        var master = new PCG(0, seed);
        var generators = new PCG[iterations];
        for (long i = 0; i < iterations; i++) generators[i] = new PCG(1, master.Next64());
        return generators;
    }

    /// <summary>
    /// Checks <paramref name="assert"/> on <paramref name="iterations"/> inputs of <paramref name="gen"/> (or as many as
    /// the environment says), on every core; throws for the first input, in order, that fails.
    /// </summary>
    public static void Check<T>(Gen<T> gen, Action<T> assert, long iterations, Func<T, byte[]>? bytesOf = null)
    {
        (ulong seed, long count) = Settings(iterations);
        PCG[] inputs = InputGenerators(seed, count);
        long firstFailure = long.MaxValue;
        Parallel.For(0, count, (i, loop) =>
        {
            T input = gen.Generate(inputs[i], null, out _);
            try
            {
                assert(input);
            }
            catch (Exception)
            {
                InterlockedMin(ref firstFailure, i);
                loop.Break();
            }
        });
        if (firstFailure == long.MaxValue) return;

        // Again, on this thread, for the failure's own exception and the input to report.
        PCG failing = InputGenerators(seed, firstFailure + 1)[firstFailure];
        T value = gen.Generate(failing, null, out _);
        string saved = bytesOf is null ? "" : $" Its bytes: {Save(bytesOf(value))}.";
        try
        {
            assert(value);
        }
        catch (Exception error)
        {
            throw new InvalidOperationException(
                $"Input {firstFailure} of {count} failed ({SeedVariable}={seed} {IterationsVariable}={firstFailure + 1} reruns it last).{saved} {error.Message}", error);
        }
        throw new InvalidOperationException($"Input {firstFailure} of {count} failed on a worker thread but passed again ({SeedVariable}={seed}).{saved}");
    }

    private static void InterlockedMin(ref long target, long value)
    {
        long seen = Volatile.Read(ref target);
        while (value < seen)
        {
            long previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen) return;
            seen = previous;
        }
    }

    private static string Save(byte[] bytes)
    {
        string path = Path.Combine(Path.GetTempPath(), $"grokfast-failing-input-{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
