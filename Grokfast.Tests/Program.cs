using Grokfast.Tests.Support;

namespace Grokfast.Tests;

/// <summary>
/// The test executable's entry point: xunit's console runner (what <c>dotnet test</c> and tools/gpu start), or, with
/// <c>save-loop</c> first, the child process that <see cref="Checkpoints.InterruptedSaveTests"/> kills while it saves, or
/// with <c>mpi-train</c> first, one rank of the data-parallel runs <see cref="Distributed.MpiDataParallelTests"/> starts under
/// mpirun, or with <c>vector-floats</c>, the floats in this process's <c>Vector&lt;float&gt;</c> (<see cref="Engine.VectorWidthTests"/>).
/// </summary>
internal static class Program
{
    public static int Main(string[] args) => args switch
    {
        [SaveLoop.Verb, string path] => SaveLoop.Run(path),
        [MpiTraining.Verb, string scenario, string folder] => MpiTraining.Run(scenario, folder),
        [Engine.VectorWidthTests.Verb] => Engine.VectorWidthTests.PrintVectorFloats(),
        _ => Xunit.Runner.InProc.SystemConsole.ConsoleRunner.Run(args).GetAwaiter().GetResult(),
    };
}
