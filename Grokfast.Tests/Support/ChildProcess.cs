using System.Diagnostics;

namespace Grokfast.Tests.Support;

/// <summary>
/// Runs a program to its end, capturing its exit code and output, and kills it past a time limit. A child's OpenMP threads
/// (libtorch's) sleep when idle unless a test says otherwise: spinning beside the test host's own threads, on cores the
/// two share, they would slow both many times over.
/// </summary>
internal static class ChildProcess
{
    /// <summary>
    /// Runs <paramref name="program"/>; <paramref name="environment"/> adds variables to the test host's, or removes
    /// those it maps to null.
    /// </summary>
    public static (int ExitCode, string Output, string Error) Run(string program, IEnumerable<string> args, TimeSpan limit,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        using Process process = Process.Start(StartInfo(program, args, environment))!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {limit}.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>How <see cref="Run"/> starts a child, output redirected, for a test that reads it as it comes.</summary>
    public static ProcessStartInfo StartInfo(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        foreach ((string name, string? value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        return start;
    }
}
