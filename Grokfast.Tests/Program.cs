using Grokfast.Tests.Support;

namespace Grokfast.Tests;

/// <summary>
/// The test executable's entry point: xunit's console runner (what <c>dotnet test</c> and tools/gpu start), or, with
/// <c>save-loop</c> first, the child process that <see cref="Checkpoints.InterruptedSaveTests"/> kills while it saves.
/// </summary>
internal static class Program
{
    public static int Main(string[] args) => args is [SaveLoop.Verb, string path]
        ? SaveLoop.Run(path)
        : Xunit.Runner.InProc.SystemConsole.ConsoleRunner.Run(args).GetAwaiter().GetResult();
}
