using System.Diagnostics;

namespace Grokfast.Tests.Support;

/// <summary>Runs a program to its end, capturing its exit code and output, and kills it past a time limit.</summary>
internal static class ChildProcess
{
    public static (int ExitCode, string Output, string Error) Run(string program, IEnumerable<string> args, TimeSpan limit,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        foreach ((string name, string value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {limit}.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
