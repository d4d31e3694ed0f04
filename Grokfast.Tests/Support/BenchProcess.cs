using System.Diagnostics;

namespace Grokfast.Tests.Support;

/// <summary>
/// Runs the Grokfast.Bench console app as a user would, through its own executable beside the tests (so it also runs
/// from tools/gpu's self-contained publish, where there is no <c>dotnet</c>), capturing its exit code and output.
/// </summary>
internal static class BenchProcess
{
    /// <summary>SkiaSharp's font lookup on Linux: the one folder it reads fonts from.</summary>
    private const string SystemFontFolder = "/usr/share/fonts";

    private static readonly Lazy<string> EmptyFolder = new(() => Directory.CreateTempSubdirectory("grokfast-no-fonts-").FullName);

    /// <summary>Whether this machine lets an unprivileged process hide a folder in a mount namespace of its own.</summary>
    public static readonly Lazy<bool> CanHideSystemFonts = new(() => Run(Start("unshare", "-rm", "true"), "unshare").ExitCode == 0);

    private static string Executable => Path.Combine(AppContext.BaseDirectory, "Grokfast.Bench");

    public static (int ExitCode, string Output, string Error) Run(params string[] args) => Run(Start(Executable, args), args[0]);

    /// <summary>
    /// As <see cref="Run"/>, on a machine without system fonts: the app runs in a mount namespace of its own in which
    /// an empty folder is mounted over the font folder (needs <see cref="CanHideSystemFonts"/>).
    /// </summary>
    public static (int ExitCode, string Output, string Error) RunWithoutSystemFonts(params string[] args) =>
        Run(Start("unshare", ["-rm", "sh", "-c", "mount --bind \"$0\" \"$1\" && shift && exec \"$@\"", EmptyFolder.Value, SystemFontFolder, Executable, .. args]), args[0]);

    private static ProcessStartInfo Start(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        return start;
    }

    private static (int ExitCode, string Output, string Error) Run(ProcessStartInfo start, string verb)
    {
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{start.FileName} {verb} did not finish in 2 minutes.");
        }
        return (process.ExitCode, output.Result, error.Result);
    }
}
