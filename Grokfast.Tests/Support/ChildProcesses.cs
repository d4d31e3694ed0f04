namespace Grokfast.Tests.Support;

/// <summary>
/// Tests that start child processes run alone, not beside other classes: a child and the test host computing at once
/// would share the cores and each would take several times as long.
/// </summary>
[CollectionDefinition(nameof(ChildProcesses), DisableParallelization = true)]
public sealed class ChildProcesses;
