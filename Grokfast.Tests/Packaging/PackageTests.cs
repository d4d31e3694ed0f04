using System.Diagnostics;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Packaging;

/// <summary>
/// The packages as a user gets them: packed from this tree, restored into an empty package cache from a
/// local feed (so a stale cached copy cannot hide a broken package), and the example console app built
/// and run against them — including the libstdc++ fix, which reaches it only through the package.
/// </summary>
public sealed class PackageTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-package-").FullName;

    [Fact]
    public void PackedPackages_RestoredFromALocalFeedIntoAnEmptyCache_RunTheGettingStartedExample()
    {
        string feed = Path.Combine(folder, "feed");
        string cache = Path.Combine(folder, "cache");
        string example = Path.Combine(Repository.Root, "examples", "GettingStarted", "GettingStarted.csproj");
        foreach (string project in new[] { "Grokfast.Kernels", "Grokfast.Interop" })
            Dotnet("pack", Path.Combine(Repository.Root, project, project + ".csproj"), "-c", "Release", "-o", feed);
        Assert.True(File.Exists(Path.Combine(feed, "Grokfast.TorchSharp.0.1.0.snupkg")), "the symbol package is missing");

        DotnetWithCache(cache, "restore", example, "--source", feed, "--source", "https://api.nuget.org/v3/index.json");
        string output = DotnetWithCache(cache, "run", "--project", example, "--no-restore", "-c", "Release");

        Assert.Contains("resumed at filter step 200", output, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Path.Combine(cache, "grokfast.torchsharp", "0.1.0")), "the package did not come from the local feed into the empty cache");
    }

    /// <summary>Runs dotnet with the machine's own package cache (packing restores the library's dependencies).</summary>
    private static string Dotnet(params string[] args) => DotnetWithCache(packageCache: null, args);

    /// <summary>Runs dotnet with <paramref name="packageCache"/> as its package folder (null: the machine's own).</summary>
    private static string DotnetWithCache(string? packageCache, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        if (packageCache is not null) start.Environment["NUGET_PACKAGES"] = packageCache;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(8)), $"dotnet {string.Join(' ', args)} timed out");
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} failed:\n{output.Result}\n{error.Result}");
        return output.Result;
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
