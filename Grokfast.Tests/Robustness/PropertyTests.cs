using CsCheck;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Robustness;

/// <summary>The property runner: the same inputs on every run by default, new ones when asked, failures that say how to rerun them.</summary>
public sealed class PropertyTests
{
    private static readonly Gen<byte[]> Bytes = Gen.Byte.Array[0, 64];

    [Fact]
    public void Inputs_OfTwoRunsWithTheDefaultSeed_AreTheSame()
    {
        (ulong first, long count) = Property.Settings(500, NoEnvironment);
        (ulong second, _) = Property.Settings(500, NoEnvironment);

        Assert.Equal(Property.DefaultSeed, first);
        Assert.Equal(500, count);
        Assert.Equal(Inputs(first, count), Inputs(second, count));
    }

    [Fact]
    public void Inputs_OfTwoRunsWithFreshSeeds_Differ()
    {
        Func<string, string?> fresh = name => name == Property.SeedVariable ? "fresh" : null;
        (ulong first, _) = Property.Settings(500, fresh);
        (ulong second, _) = Property.Settings(500, fresh);

        Assert.NotEqual(first, second);
        Assert.NotEqual(Inputs(first, 500), Inputs(second, 500));
    }

    [Fact]
    public void Settings_FromTheEnvironment_TakeItsSeedAndIterations()
    {
        Func<string, string?> environment = name => name == Property.SeedVariable ? "42" : "1000000";

        Assert.Equal((42UL, 1_000_000L), Property.Settings(500, environment));
    }

    [Theory]
    [InlineData(Property.SeedVariable, "-1")]
    [InlineData(Property.SeedVariable, "soon")]
    [InlineData(Property.IterationsVariable, "0")]
    [InlineData(Property.IterationsVariable, "many")]
    public void Settings_ThatAreNotNumbers_ThrowNamingTheVariable(string variable, string value)
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => Property.Settings(500, name => name == variable ? value : null));

        Assert.Contains(variable, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_OfAPropertyThatFails_NamesTheFirstFailingInputAndTheSeedThatRerunsIt()
    {
        // Inputs of more than 40 bytes fail: the first such input in the default run is the one reported.
        long expected = Array.FindIndex(Inputs(Property.DefaultSeed, 2000), input => input.Length > 40);

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() =>
            Property.Check(Bytes, input => Assert.True(input.Length <= 40), 2000, input => input));

        Assert.Contains($"Input {expected} of 2000 failed", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{Property.SeedVariable}={Property.DefaultSeed}", error.Message, StringComparison.Ordinal);
        string path = error.Message.Split("Its bytes: ")[1].Split(". ")[0];
        Assert.True(File.ReadAllBytes(path).Length > 40, "the failing input's bytes were not written");
        File.Delete(path);
    }

    [Fact]
    public void Check_OfAPropertyThatHolds_ChecksEveryInput()
    {
        long checkedInputs = 0;

        Property.Check(Bytes, _ => Interlocked.Increment(ref checkedInputs), 2000);

        Assert.Equal(2000, checkedInputs);
    }

    private static string? NoEnvironment(string name) => null;

    private static byte[][] Inputs(ulong seed, long count) =>
        Property.InputGenerators(seed, count).Select(pcg => Bytes.Generate(pcg, null, out _)).ToArray();
}
