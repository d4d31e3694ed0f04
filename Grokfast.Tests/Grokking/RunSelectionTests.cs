using Grokfast.Bench.Grokking;

namespace Grokfast.Tests.Grokking;

public sealed class RunSelectionTests
{
    [Theory]
    [InlineData("all", new[] { "baseline", "ema", "ma", "kalman" })]
    [InlineData("ema", new[] { "ema" })]
    [InlineData("none", new[] { "baseline" })]
    [InlineData("ma, ema", new[] { "ema", "ma" })]
    [InlineData("kalman,none", new[] { "baseline", "kalman" })]
    public void Select_AListOfRuns_GivesThemInTheSessionsOrder(string text, string[] expected) =>
        Assert.Equal(expected, RunSelection.Select(text, GrokCommand.DefaultRuns).Select(r => r.Name));

    [Theory]
    [InlineData("sgd", "'sgd'")]
    [InlineData("ema,", "''")]
    [InlineData("ema,ema", "twice")]
    [InlineData("all,ema", "alone")]
    [InlineData("EMA", "'EMA'")]
    public void Select_BadValue_ThrowsNamingWhatIsWrong(string text, string named)
    {
        FormatException error = Assert.Throws<FormatException>(() => RunSelection.Select(text, GrokCommand.DefaultRuns));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Contains("--filter", error.Message, StringComparison.Ordinal);
    }
}
