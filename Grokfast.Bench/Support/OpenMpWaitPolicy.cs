using System.Runtime.InteropServices;

namespace Grokfast.Bench.Support;

/// <summary>
/// How libtorch's OpenMP threads wait between parallel operations. By default libgomp spins them for a while; beside
/// another busy process on the same cores the spinning threads take the cores from the threads with work, and both
/// processes crawl (the grokking run: 52 ms a step alone, 358 ms beside a second one on 2 cores; with PASSIVE, 52 and 81
/// ms). libgomp reads its settings once, as libtorch loads, so they must be in the process's environment before then.
/// </summary>
internal static partial class OpenMpWaitPolicy
{
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>libgomp's other knob for the same wait: a user who sets either has chosen.</summary>
    private const string SpinCountVariable = "GOMP_SPINCOUNT";

    /// <summary>
    /// Makes idle OpenMP threads sleep (<c>OMP_WAIT_POLICY=PASSIVE</c>) unless the user chose a policy; a no-op off
    /// Linux. Call before anything loads libtorch.
    /// </summary>
    public static void PreferPassive()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(Variable) is not null
            || Environment.GetEnvironmentVariable(SpinCountVariable) is not null)
        {
            return;
        }
        // .NET keeps its own copy of the environment on Unix: libgomp reads the C library's.
        if (setenv(Variable, "PASSIVE", 0) != 0) return;
        Environment.SetEnvironmentVariable(Variable, "PASSIVE");
    }

    /// <summary>The policy in force, as the machine line prints it.</summary>
    public static string Describe() => Environment.GetEnvironmentVariable(Variable) is string policy
        ? $"{Variable}={policy}"
        : Environment.GetEnvironmentVariable(SpinCountVariable) is string spins ? $"{SpinCountVariable}={spins}" : "spinning (libgomp's default)";

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
