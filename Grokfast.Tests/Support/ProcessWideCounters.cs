namespace Grokfast.Tests.Support;

/// <summary>
/// Tests that read process-wide counters (live tensors, managed heap) or switch process-wide settings (which
/// threads run the CPU twins) run alone, not beside other classes.
/// </summary>
[CollectionDefinition(nameof(ProcessWideCounters), DisableParallelization = true)]
public sealed class ProcessWideCounters;
