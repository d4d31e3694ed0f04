using System.Diagnostics;

namespace Grokfast.Tests.Support;

/// <summary>Runs the Grokfast.Bench console app as a user would, capturing its exit code and output.</summary>
internal static class BenchProcess
{
    public static (int ExitCode, string Output, string Error) Run(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Grokfast.Bench.dll"));
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
