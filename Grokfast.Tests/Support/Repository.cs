using System.Reflection;

namespace Grokfast.Tests.Support;

/// <summary>Where the repository's files are, for tests that read README.md or sources.</summary>
internal static class Repository
{
    public static string Root =>
        typeof(Repository).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
}
