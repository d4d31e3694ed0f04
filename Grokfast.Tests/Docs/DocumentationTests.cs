using System.Text.RegularExpressions;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Docs;

/// <summary>
/// The docs cannot drift from the repository: every relative link in README.md, CONTRIBUTING.md, kernels.md and docs/
/// resolves (a file or folder, and a heading where it names one), and every code block marked
/// <c>&lt;!-- tested: path#marker --&gt;</c> is the code between <c>// marker:begin</c> and <c>// marker:end</c> in that
/// file — which a test compiles and runs.
/// </summary>
public sealed partial class DocumentationTests
{
    private static readonly string[] TopLevel = ["README.md", "CONTRIBUTING.md", "kernels.md"];
    private static readonly string[] ExampleSources = ["Grokfast.Tests/Interop/ReadmeExampleTests.cs", "examples/GettingStarted/Program.cs"];

    public static TheoryData<string> Documents() => [.. DocumentPaths()];

    private static IEnumerable<string> DocumentPaths()
    {
        string root = Repository.Root;
        IEnumerable<string> docs = Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'));
        return TopLevel.Concat(docs.Order(StringComparer.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void EveryRelativeLink_Resolves(string document)
    {
        string path = Path.Combine(Repository.Root, document);
        string text = WithoutCode(File.ReadAllText(path));
        var broken = new List<string>();
        foreach (Match link in Link().Matches(text))
        {
            string target = link.Groups["target"].Value;
            if (target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal)) continue;
            string[] parts = target.Split('#', 2);
            string file = parts[0].Length == 0 ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, parts[0]));
            if (!File.Exists(file) && !Directory.Exists(file))
            {
                broken.Add($"{target}: no such file");
                continue;
            }
            if (parts.Length == 2 && file.EndsWith(".md", StringComparison.Ordinal) && !Anchors(file).Contains(parts[1]))
                broken.Add($"{target}: no heading '{parts[1]}' there");
        }
        Assert.True(broken.Count == 0, $"{document}: {string.Join("; ", broken)}");
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void EveryTestedCodeBlock_IsTheCodeATestRuns(string document)
    {
        string text = File.ReadAllText(Path.Combine(Repository.Root, document)).Replace("\r\n", "\n", StringComparison.Ordinal);
        foreach (Match block in TestedBlock().Matches(text))
        {
            string source = block.Groups["source"].Value, marker = block.Groups["marker"].Value;
            string[] region = Region(source, marker);
            string[] shown = block.Groups["code"].Value.TrimEnd('\n').Split('\n');
            // The region may end inside a block the code closes after it: the docs show the closing braces too.
            Assert.True(shown.Length >= region.Length && shown.Take(region.Length).SequenceEqual(region)
                && shown.Skip(region.Length).All(line => line.Trim() == "}"),
                $"{document}: the block marked {source}#{marker} is not the code there:\n{string.Join('\n', region)}");
        }
    }

    [Fact]
    public void EveryMarkedRegion_IsShownInTheDocs()
    {
        string shownSomewhere = string.Concat(DocumentPaths().Select(d => File.ReadAllText(Path.Combine(Repository.Root, d))));
        foreach (string source in ExampleSources)
        {
            foreach (Match marker in RegionBegin().Matches(File.ReadAllText(Path.Combine(Repository.Root, source))))
                Assert.Contains($"<!-- tested: {source}#{marker.Groups["marker"].Value} -->", shownSomewhere, StringComparison.Ordinal);
        }
    }

    // The lines between the markers, without their common indentation.
    private static string[] Region(string source, string marker)
    {
        string[] lines = File.ReadAllText(Path.Combine(Repository.Root, source)).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        int begin = Array.FindIndex(lines, l => l.Trim() == $"// {marker}:begin");
        int end = Array.FindIndex(lines, begin + 1, l => l.Trim() == $"// {marker}:end");
        Assert.True(begin >= 0 && end > begin, $"{source} has no region {marker}");
        string[] region = lines[(begin + 1)..end];
        int indent = region.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        return [.. region.Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())];
    }

    // GitHub's anchors: the heading lowercased, punctuation dropped (letters, digits, spaces, hyphens and underscores
    // kept), spaces made hyphens.
    private static HashSet<string> Anchors(string markdown) =>
    [
        .. Heading().Matches(WithoutCode(File.ReadAllText(markdown)))
            .Select(m => new string([.. m.Groups["title"].Value.Trim().ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_')]).Replace(' ', '-')),
    ];

    private static string WithoutCode(string markdown) => Fence().Replace(markdown, "");

    [GeneratedRegex(@"(?<!`)\[[^\]\n]*\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"(?m)^#{1,6} (?<title>.+)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"(?ms)^```.*?^```")]
    private static partial Regex Fence();

    [GeneratedRegex(@"<!-- tested: (?<source>[^#\s]+)#(?<marker>[\w-]+) -->\n```\w*\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex TestedBlock();

    [GeneratedRegex(@"// (?<marker>[\w-]+):begin")]
    private static partial Regex RegionBegin();
}
