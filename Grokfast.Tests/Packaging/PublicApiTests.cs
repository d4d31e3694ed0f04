using System.Reflection;
using System.Text.RegularExpressions;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Packaging;

/// <summary>docs/api.md lists exactly the types the two packages export: no more (an accident made public), no fewer.</summary>
public sealed partial class PublicApiTests
{
    [Fact]
    public void ApiDoc_ListsExactlyThePackagesExportedTypes()
    {
        string readme = File.ReadAllText(Path.Combine(Repository.Root, "docs", "api.md"));
        int begin = readme.IndexOf("<!-- public-api:begin -->", StringComparison.Ordinal);
        int end = readme.IndexOf("<!-- public-api:end -->", StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, "docs/api.md has no public-api section");
        string[] listed = QualifiedName().Matches(readme[begin..end]).Select(m => m.Groups["name"].Value).Order(StringComparer.Ordinal).ToArray();

        string[] exported = new[] { typeof(KernelBackend).Assembly, typeof(GradientFilter).Assembly }
            .SelectMany(assembly => assembly.GetExportedTypes())
            .Select(type => type.FullName!.Split('`')[0])
            .Order(StringComparer.Ordinal)
            .ToArray();

        Assert.Equal(exported, listed);
    }

    // `Grokfast.Some.Type`, `Grokfast.Some.Type<T1, T2>` or a nested `Grokfast.Some.Type+Nested` in backticks (a package
    // name has two parts, a type three or more).
    [GeneratedRegex(@"`(?<name>Grokfast(\.\w+){2,}(\+\w+)?)(<[^`]*>)?`")]
    private static partial Regex QualifiedName();
}
