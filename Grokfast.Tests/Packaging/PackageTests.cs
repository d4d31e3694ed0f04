using System.Xml.Linq;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: packed from this tree, restored into an empty package cache (so a stale cached
/// copy cannot hide a broken package) from a local feed — the new packages, and their dependencies taken from this
/// machine's own package folder, so no network is needed — and the example console app built and run against them,
/// including the libstdc++ fix, which reaches it only through the package.
/// </summary>
[Collection(nameof(ChildProcesses))]
public sealed class PackageTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(8);

    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-package-").FullName;

    private static string Version =>
        XDocument.Load(Path.Combine(Repository.Root, "version.props")).Descendants("GrokfastVersion").Single().Value;

    [Fact]
    public void PackedPackages_RestoredOfflineIntoAnEmptyCache_RunTheGettingStartedExample()
    {
        string feed = Path.Combine(folder, "feed");
        string cache = Path.Combine(folder, "cache");
        string example = Path.Combine(Repository.Root, "examples", "GettingStarted", "GettingStarted.csproj");
        foreach (string project in new[] { "Grokfast.Kernels", "Grokfast.Interop" })
            Dotnet(null, "pack", Path.Combine(Repository.Root, project, project + ".csproj"), "-c", "Release", "-o", feed);
        Assert.True(File.Exists(Path.Combine(feed, $"Grokfast.TorchSharp.{Version}.snupkg")), "the symbol package is missing");

        // The machine's package folder keeps every .nupkg it restored, in the layout of a local feed.
        Dotnet(cache, "restore", example, "--source", feed, "--source", MachinePackageFolder);
        string output = Dotnet(cache, "run", "--project", example, "--no-restore", "-c", "Release");

        Assert.Contains("resumed at filter step 200", output, StringComparison.Ordinal);
        Assert.Contains("fused GrokfastAdamW: loss after 200 steps", output, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(cache, "grokfast.torchsharp", Version)), "the package did not come from the local feed into the empty cache");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static string MachinePackageFolder =>
        typeof(PackageTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "NuGetPackageRoot").Value!;

    /// <summary>Runs dotnet with <paramref name="packageCache"/> as its package folder (null: the machine's own); killed past the limit.</summary>
    private static string Dotnet(string? packageCache, params string[] args)
    {
        var environment = new Dictionary<string, string?> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" };
        if (packageCache is not null) environment["NUGET_PACKAGES"] = packageCache;
        (int exitCode, string output, string error) = ChildProcess.Run("dotnet", args, Limit, environment);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', args)} failed:\n{output}\n{error}");
        return output;
    }
}
