namespace Grokfast.Bench.Support;

/// <summary>A one-line description of this machine, written beside every figure.</summary>
internal static class MachineInfo
{
    public static string Describe()
    {
        string cpu = "unknown CPU";
        if (File.Exists("/proc/cpuinfo"))
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) cpu = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        return $"{cpu}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}";
    }
}
