using System.Globalization;
using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Distributed;

/// <summary>
/// NCCL's own rendezvous, for ranks started without MPI: <c>NCCL_COMM_ID=host:port</c>, from which every rank derives the
/// same unique id while rank 0 hosts the root there. Set by the user, or derived from <c>torchrun</c>'s
/// <c>MASTER_ADDR</c> and <c>MASTER_PORT</c> — the port after <c>MASTER_PORT</c>, which torchrun's own store holds.
/// </summary>
internal static partial class NcclRendezvous
{
    /// <summary>The environment variable NCCL reads.</summary>
    public const string Variable = "NCCL_COMM_ID";

    /// <summary>
    /// The rendezvous address in <paramref name="environment"/> (the process's when null): <c>NCCL_COMM_ID</c>, else
    /// <c>MASTER_ADDR:(MASTER_PORT + 1)</c>, else null. A <c>MASTER_PORT</c> that is not a port below 65535 throws
    /// <see cref="InvalidOperationException"/> naming it.
    /// </summary>
    public static string? Address(IReadOnlyDictionary<string, string?>? environment)
    {
        if (LaunchEnvironment.Variable(environment, Variable) is { Length: > 0 } given) return given;
        string? host = LaunchEnvironment.Variable(environment, "MASTER_ADDR"), portText = LaunchEnvironment.Variable(environment, "MASTER_PORT");
        if (string.IsNullOrEmpty(host) || portText is null) return null;
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port < 1 || port > 65534)
            throw new InvalidOperationException($"MASTER_PORT={portText} is out of range: it must be a port in [1, 65534] (NCCL's rendezvous takes the next one).");
        // An IPv6 address goes in brackets, as NCCL parses it.
        return host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port + 1}" : $"{host}:{port + 1}";
    }

    /// <summary>
    /// Makes <paramref name="address"/> the process's <c>NCCL_COMM_ID</c> where the variable is not set yet: in the native
    /// environment, which NCCL reads (.NET's own setter does not reach it on Linux).
    /// </summary>
    public static void Publish(string address)
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 }) return;
        if (SetEnvironment(Variable, address, overwrite: 0) != 0)
            throw new InvalidOperationException($"Could not set {Variable}={address} for NCCL (setenv failed).");
        Environment.SetEnvironmentVariable(Variable, address);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnvironment(string name, string value, int overwrite);
}
