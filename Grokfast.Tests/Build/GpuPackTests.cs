using Grokfast.Tests.Support;

namespace Grokfast.Tests.Build;

/// <summary>
/// tools/gpu/pack.sh, which packs the GPU half of the suite for a GPU machine, runs here, and what it makes fits the
/// device tool's 64 MiB carry and holds what tools/gpu/run.sh needs.
/// </summary>
[Collection(nameof(ChildProcesses))]
public sealed class GpuPackTests : IDisposable
{
    private const long CarryLimit = 64L << 20;

    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-gpu-pack-").FullName;

    [Fact]
    public void Pack_MakesAnArchiveWithinTheCarryLimitThatRunsTheTestsAndTheBench()
    {
        (int exitCode, string output) = Run("bash", [Path.Combine(Repository.Root, "tools", "gpu", "pack.sh"), folder], TimeSpan.FromMinutes(10));
        Assert.True(exitCode == 0, output);

        long bytes = new FileInfo(Path.Combine(folder, "app.tar.xz")).Length;
        Assert.InRange(bytes, 1L << 20, CarryLimit - (1L << 20));
        Assert.True(File.Exists(Path.Combine(folder, "run.sh")));
        Assert.True(File.Exists(Path.Combine(folder, "torch_anchor.py")));
        Assert.True(File.Exists(Path.Combine(folder, "reference.py")));
        // The run records what it ran: the commit, and whether the tree had changes beyond it.
        (_, string head) = Run("git", ["-C", Repository.Root, "rev-parse", "HEAD"], TimeSpan.FromMinutes(1));
        (_, string changes) = Run("git", ["-C", Repository.Root, "status", "--short"], TimeSpan.FromMinutes(1));
        string[] buildInfo = File.ReadAllLines(Path.Combine(folder, "build-info.txt"));
        Assert.Equal($"commit {head.Trim()}{(changes.Trim().Length > 0 ? " with uncommitted changes (listed below)" : "")}", buildInfo[0]);
        (int listed, string files) = Run("tar", ["-tJf", Path.Combine(folder, "app.tar.xz")], TimeSpan.FromMinutes(2));
        Assert.Equal(0, listed);
        string[] names = files.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (string needed in new[] { "app/Grokfast.Tests", "app/Grokfast.Bench", "app/libLibTorchSharp.so", "app/Plotting/Fonts/DejaVuSans.ttf", "app/Golden/grads.npy" })
            Assert.Contains(needed, names);
        Assert.DoesNotContain(names, name => name.StartsWith("app/libtorch_cpu", StringComparison.Ordinal));

        // The packed apps start without an SDK: here, with no GPU, the GPU tests are reported as skipped.
        Assert.Equal(0, Run("tar", ["-xJf", Path.Combine(folder, "app.tar.xz"), "-C", folder], TimeSpan.FromMinutes(2)).ExitCode);
        (int tested, string report) = Run(Path.Combine(folder, "app", "Grokfast.Tests"), ["-trait", "Requires=Cuda", "-noColor"], TimeSpan.FromMinutes(2));
        Assert.True(tested == 0, report);
        Assert.Contains("Failed: 0", report, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static (int ExitCode, string Output) Run(string program, string[] args, TimeSpan limit)
    {
        (int exitCode, string output, string error) = ChildProcess.Run(program, args, limit);
        return (exitCode, output + error);
    }
}
