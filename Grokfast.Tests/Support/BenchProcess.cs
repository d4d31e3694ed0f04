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
    public static readonly Lazy<bool> CanHideSystemFonts = new(() =>
    {
        try
        {
            return ChildProcess.Run("unshare", ["-rm", "true"], Limit).ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no unshare at all
        }
    });

    /// <summary>A guard against a hang only: every run a test makes takes seconds, on a loaded machine too.</summary>
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    /// <summary>
    /// grok's task in miniature for tests of the plumbing: x·y mod 13 (78 training equations, one step an epoch) on a model
    /// of width 16, so that a run takes about a second on any x86-64 CPU, bfloat16 on one without AVX512-BF16 too.
    /// </summary>
    public static readonly string[] TinyGrok = ["--modulus", "13", "--width", "16"];

    private static string Executable => Path.Combine(AppContext.BaseDirectory, "Grokfast.Bench");

    public static (int ExitCode, string Output, string Error) Run(params string[] args) => ChildProcess.Run(Executable, args, Limit);

    /// <summary>As <see cref="Run(string[])"/>, with <paramref name="environment"/> as <see cref="ChildProcess.Run"/> takes it.</summary>
    public static (int ExitCode, string Output, string Error) Run(IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        ChildProcess.Run(Executable, args, Limit, environment);

    /// <summary>
    /// As <see cref="Run"/>, on a machine without system fonts: the app runs in a mount namespace of its own in which
    /// an empty folder is mounted over the font folder (needs <see cref="CanHideSystemFonts"/>).
    /// </summary>
    public static (int ExitCode, string Output, string Error) RunWithoutSystemFonts(params string[] args) =>
        ChildProcess.Run("unshare", ["-rm", "sh", "-c", "mount --bind \"$0\" \"$1\" && shift && exec \"$@\"", EmptyFolder.Value, SystemFontFolder, Executable, .. args], Limit);
}
