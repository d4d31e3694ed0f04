using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Grokfast.Tests.Checkpoints;

/// <summary>
/// A filter state past the 2 GiB an array holds, saved and loaded through files by streaming it; the load holds one
/// staging copy of the state beside it (so that a failed load changes nothing), never a copy of the file.
/// </summary>
public sealed class LargeCheckpointTests : IDisposable
{
    // 2.24 GB of EMA state: more than a byte[] can hold, so only streaming gets it to a file and back.
    private const long Elements = 560_000_000;
    private const long MemoryNeeded = 16L << 30;
    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-large-").FullName;

    [Fact]
    public void StateOfMoreThan2GiB_SavesAndLoadsBitForBitThroughOneStagingCopy()
    {
        Assert.SkipUnless(AvailableMemory() >= MemoryNeeded,
            $"Needs {MemoryNeeded >> 30} GiB of available memory (the parameter, its gradient, the state and two copies to compare, 2.24 GB each); this machine has {AvailableMemory() >> 30} GiB.");
        string path = Path.Combine(folder, "large.gfst");
        using var module = new DtypeModule([[Elements]], [ScalarType.Float32]);
        Parameter weight = module.Parameters[0];
        weight.grad = torch.empty(Elements);
        FillGradient(weight, seed: 1);
        using var ema = new EmaFilter(module, alpha: 0.5, lamb: 0);
        ema.step(); // the average starts at the first gradient, exactly

        Assert.Throws<InvalidOperationException>(() => ema.state_dict());
        ema.save(path);
        FillGradient(weight, seed: 2);
        ema.step(); // the state moves on, so the load below has something to undo
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread(), residentBefore = ResidentBytes();
        ResetPeakResidentBytes();
        ema.load(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore, peak = PeakResidentBytes() - residentBefore;

        long stateBytes = Elements * sizeof(float);
        Assert.True(new FileInfo(path).Length > 2L << 30, "the state should pass 2 GiB");
        Assert.True(allocated < 64L << 20, $"loading allocated {allocated} managed bytes: the file went through managed memory");
        Assert.True(peak < stateBytes + (512L << 20), $"loading grew the process by up to {peak} bytes: more than one staging copy of the {stateBytes}-byte state");
        Assert.Equal(1, ema.StepCount);
        using Tensor expected = torch.empty(Elements);
        expected.uniform_(-1, 1, generator: new torch.Generator(1));
        IReadOnlyDictionary<string, Tensor> state = ema.state();
        try
        {
            Assert.True(BitEqual(state["average"], expected), "the loaded average differs from the one saved");
        }
        finally
        {
            foreach (Tensor t in state.Values) t.Dispose();
        }
    }

    /// <summary>Element by element (no NaN or -0 here, so == is bitwise), 16 M at a time, so that the comparison needs no third copy of the state.</summary>
    private static bool BitEqual(Tensor a, Tensor b)
    {
        const long chunk = 16 << 20;
        for (long start = 0; start < a.numel(); start += chunk)
        {
            using var scope = torch.NewDisposeScope();
            long count = Math.Min(chunk, a.numel() - start);
            if (!a.narrow(0, start, count).eq(b.narrow(0, start, count)).all().item<bool>()) return false;
        }
        return true;
    }

    private static void FillGradient(Parameter weight, ulong seed)
    {
        using Tensor grad = weight.grad!;
        using (torch.no_grad()) grad.uniform_(-1, 1, generator: new torch.Generator(seed));
    }

    private static long AvailableMemory() => MeminfoBytes("/proc/meminfo", "MemAvailable:");

    private static long ResidentBytes() => MeminfoBytes("/proc/self/status", "VmRSS:");

    private static long PeakResidentBytes() => MeminfoBytes("/proc/self/status", "VmHWM:");

    /// <summary>Starts the process's peak resident size afresh from its current one (Linux's clear_refs, value 5).</summary>
    private static void ResetPeakResidentBytes() => File.WriteAllText("/proc/self/clear_refs", "5");

    /// <summary>A "Name: N kB" line of a /proc file, in bytes.</summary>
    private static long MeminfoBytes(string file, string name) =>
        long.Parse(File.ReadLines(file).First(l => l.StartsWith(name, StringComparison.Ordinal))[name.Length..].Trim().Split(' ')[0],
            System.Globalization.CultureInfo.InvariantCulture) * 1024;

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
