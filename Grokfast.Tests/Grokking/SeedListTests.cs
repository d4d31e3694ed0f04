using Grokfast.Bench.Grokking;

namespace Grokfast.Tests.Grokking;

public sealed class SeedListTests
{
    [Theory]
    [InlineData("0", new[] { 0 })]
    [InlineData("0,1,2", new[] { 0, 1, 2 })]
    [InlineData("0-4", new[] { 0, 1, 2, 3, 4 })]
    [InlineData("7, 0-2 ,10", new[] { 7, 0, 1, 2, 10 })]
    [InlineData("3-3", new[] { 3 })]
    public void Parse_ListsAndRanges_GivesTheSeedsInOrder(string text, int[] expected) =>
        Assert.Equal(expected, SeedList.Parse(text));

    [Theory]
    [InlineData("", "empty")]
    [InlineData("0,,1", "empty")]
    [InlineData("a", "'a'")]
    [InlineData("-1", "'-1'")]
    [InlineData("4-2", "backwards")]
    [InlineData("0-2,1", "twice")]
    [InlineData("0-5000", "more than")]
    [InlineData("1.5", "'1.5'")]
    [InlineData("99999999999", "'99999999999'")]
    public void Parse_BadValue_ThrowsNamingWhatIsWrong(string text, string named)
    {
        FormatException error = Assert.Throws<FormatException>(() => SeedList.Parse(text));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Contains("--seeds", error.Message, StringComparison.Ordinal);
    }
}
