using System.Collections.Concurrent;
using System.Diagnostics;
using Grokfast.Checkpoints;
using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Checkpoints;

/// <summary>
/// A save that is killed part-way leaves the checkpoint it was replacing, or the new one, loadable — never a broken file;
/// two saves to one path at once never mix.
/// </summary>
[Collection(nameof(ChildProcesses))]
public sealed class InterruptedSaveTests : IDisposable
{
    private const int Kills = 8;

    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-interrupted-save-").FullName;

    [Fact]
    public void Save_KilledAtPointsThroughIt_LeavesTheOldCheckpointOrTheNewOneLoadable()
    {
        string path = Path.Combine(folder, "loop.gfst");
        var averages = new Dictionary<int, float>();
        for (int kill = 0; kill < Kills; kill++)
        {
            // Killed after the first save and, from one child to the next, later and later into the second.
            (int lastSaved, TimeSpan saveTook) = RunChildAndKill(path, kill);

            using var model = new DtypeModule([[SaveLoop.Elements]], [ScalarType.Float32]);
            using var filter = new EmaFilter(model, alpha: SaveLoop.Alpha, lamb: 0);
            filter.load(path);
            int loaded = (int)filter.StepCount;
            Assert.True(loaded == lastSaved || loaded == lastSaved + 1,
                $"kill {kill} ({saveTook.TotalMilliseconds:F0} ms a save): the file holds step {loaded}; the child had saved step {lastSaved}");
            if (!averages.ContainsKey(loaded)) averages[loaded] = SaveLoop.AverageAfter(loaded);
            IReadOnlyDictionary<string, Tensor> state = filter.state();
            using Tensor average = state["average"];
            using Tensor same = average.eq(averages[loaded]).all();
            Assert.True(same.item<bool>(), $"kill {kill}: the loaded average is not step {loaded}'s");
        }
    }

    [Fact]
    public void Save_TwoAtOnceToOnePath_LeavesOneOfTheTwoWholeAndNoTemporaryFile()
    {
        string path = Path.Combine(folder, "shared.gfst");
        using var first = new DtypeModule([[1 << 18]], [ScalarType.Float32]);
        using var second = new DtypeModule([[1 << 18]], [ScalarType.Float32]);
        using var a = new EmaFilter(first, lamb: 0);
        using var b = new EmaFilter(second, lamb: 0);
        using (Tensor one = torch.ones(1 << 18)) first.SetGradient(0, one);
        using (Tensor two = torch.full(1 << 18, 2f)) second.SetGradient(0, two);
        a.step();
        b.step();
        b.step();
        var errors = new ConcurrentBag<Exception>();

        Parallel.For(0, 2, writer =>
        {
            try
            {
                for (int i = 0; i < 20; i++) (writer == 0 ? a : b).save(path);
            }
            catch (Exception error)
            {
                errors.Add(error);
            }
        });

        Assert.Empty(errors);
        Assert.Equal([path], Directory.GetFiles(folder));
        GradientFilterState saved = GradientFilterState.Load(File.OpenRead(path));
        GradientFilterState expected = saved.StepCount == 1 ? a.state_dict() : b.state_dict();
        StateAssert.Same(expected, saved);
    }

    [Fact]
    public void Save_ThatCannotReplaceItsTarget_ThrowsAndLeavesTheOtherFilesAsTheyWereAndNoTemporaryFile()
    {
        string earlier = Path.Combine(folder, "earlier.gfst"), blocked = Path.Combine(folder, "blocked.gfst");
        using var model = new DtypeModule([[1000]], [ScalarType.Float32]);
        using var filter = new EmaFilter(model, lamb: 0);
        using (Tensor ones = torch.ones(1000)) model.SetGradient(0, ones);
        filter.step();
        filter.save(earlier);
        byte[] saved = File.ReadAllBytes(earlier);
        // A folder where the checkpoint should go: the whole file is written, then cannot be renamed over it.
        Directory.CreateDirectory(blocked);
        filter.step();

        Assert.ThrowsAny<IOException>(() => filter.save(blocked));

        Assert.Equal(saved, File.ReadAllBytes(earlier));
        Assert.Equal([earlier], Directory.GetFiles(folder));
    }

    /// <summary>
    /// Starts <see cref="SaveLoop"/> on <paramref name="path"/>, lets it save step 1, and kills it <paramref name="kill"/>
    /// eighths of a save's time after it starts saving step 2; returns the last step it said it saved.
    /// </summary>
    private static (int LastSaved, TimeSpan SaveTook) RunChildAndKill(string path, int kill)
    {
        using Process child = Process.Start(ChildProcess.StartInfo(Path.Combine(AppContext.BaseDirectory, "Grokfast.Tests"), [SaveLoop.Verb, path]))!;
        _ = child.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        TimeSpan savingOne = default, savedOne = default;
        int lastSaved = 0;
        try
        {
            while (child.StandardOutput.ReadLine() is string line)
            {
                if (line == "saving 1") savingOne = clock.Elapsed;
                if (line == "saved 1") (lastSaved, savedOne) = (1, clock.Elapsed);
                if (line == "saving 2")
                {
                    Thread.Sleep((savedOne - savingOne) * kill / Kills);
                    break;
                }
                Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the child did not reach its second save");
            }
        }
        finally
        {
            child.Kill(entireProcessTree: true);
            child.WaitForExit();
        }
        // A "saved" line the child wrote before it died but that was not read yet still counts.
        foreach (string line in child.StandardOutput.ReadToEnd().Split('\n'))
        {
            if (line.StartsWith("saved ", StringComparison.Ordinal)) lastSaved = int.Parse(line[6..], System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.True(lastSaved >= 1, "the child never finished its first save");
        return (lastSaved, savedOne - savingOne);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
