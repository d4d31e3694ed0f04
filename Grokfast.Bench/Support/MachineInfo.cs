using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Grokfast.Bench.Support;

/// <summary>
/// A one-line description of this machine, written beside every figure: the CPU and the vector extensions that decide
/// its speed here (AVX-512 for the CPU twins' widest vectors, AVX512-BF16 and AMX for libtorch's bfloat16 matrix
/// products), the width .NET's vectors run at, libtorch's threads and how they wait.
/// </summary>
internal static class MachineInfo
{
    /// <summary>The /proc/cpuinfo flags that matter here, each with the name the docs use, in order of importance.</summary>
    private static readonly (string Flag, string Name)[] Extensions =
        [("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX-BF16")];

    private static readonly string[] CapVariables = ["ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"];

    public static string Describe()
    {
        (string cpu, string flags) = CpuInfo();
        string extensions = VectorExtensions(flags) is { Length: > 0 } named ? string.Join(" ", named) : "no AVX2";
        // libtorch's kernels and oneDNN's can be held below what the CPU has (to see what a smaller CPU costs): say so.
        string capped = string.Join("", CapVariables.Select(v => Environment.GetEnvironmentVariable(v) is string cap ? $", {v}={cap}" : ""));
        return $"{cpu} ({extensions}; .NET vectors {Vector<byte>.Count * 8}-bit), {Environment.ProcessorCount} cores, " +
            $"{RuntimeInformation.OSDescription}, .NET {Environment.Version}, libtorch {torch.get_num_threads()} threads{capped}, {OpenMpWaitPolicy.Describe()}";
    }

    /// <summary>The extensions of <see cref="Extensions"/> that a cpuinfo flags line lists, by the docs' names.</summary>
    public static string[] VectorExtensions(string flags)
    {
        var present = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        return Extensions.Where(e => present.Contains(e.Flag)).Select(e => e.Name).ToArray();
    }

    /// <summary>The bandwidth of a plain copy here (torch's <c>copy_</c> of 64 MiB, read and write counted), the median of 9.</summary>
    public static double CopyGBps()
    {
        const long Bytes = 128L << 20;
        using var copy = new Throughput.BandwidthReference(Bytes);
        TimedOperation operation = copy.Operations(() => { })[0];
        double milliseconds = StepTimer.MedianMilliseconds([operation], warmup: 2, runs: 9)[0];
        return Bytes / (milliseconds * 1e6);
    }

    private static (string Cpu, string Flags) CpuInfo()
    {
        if (!File.Exists("/proc/cpuinfo")) return ("unknown CPU", "");
        string[] lines = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Length > 0).ToArray();
        string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal)) is string line
            ? line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()
            : "";
        return (Field("model name") is { Length: > 0 } model ? model : "unknown CPU", Field("flags"));
    }
}
