using System.Runtime.CompilerServices;

namespace Grokfast.Tests.Support;

/// <summary>A multi-process theory under Open MPI's <c>mpirun</c>: skipped, and reported so, where it is not installed.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class MpiTheoryAttribute : TheoryAttribute
{
    public MpiTheoryAttribute([CallerFilePath] string? sourceFilePath = null, [CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (MpiFactAttribute.Mpirun is null) Skip = "Open MPI's mpirun is not installed (apt-get install openmpi-bin).";
    }
}
