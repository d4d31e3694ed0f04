using System.Diagnostics;

namespace Grokfast.Tests.Support;

/// <summary>
/// Runs the Grokfast.Bench console app as a user would, through its own executable beside the tests (so it also runs
/// from tools/gpu's self-contained publish, where there is no <c>dotnet</c>), capturing its exit code and output.
/// </summary>
internal static class BenchProcess
{
    public static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "Grokfast.Bench")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Grokfast.Bench {string.Join(' ', args)} did not finish in 2 minutes.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
