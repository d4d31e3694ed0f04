using System.Runtime.CompilerServices;

namespace Grokfast.Tests.Support;

/// <summary>A multi-process test under Open MPI's <c>mpirun</c>: skipped, and reported so, where it is not installed (<c>.ci/run</c> installs it).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (Mpirun is null) Skip = "Open MPI's mpirun is not installed (apt-get install openmpi-bin).";
    }

    /// <summary>The path of <c>mpirun</c> on PATH, or null.</summary>
    public static string? Mpirun { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Select(folder => Path.Combine(folder, "mpirun")).FirstOrDefault(File.Exists);
}
