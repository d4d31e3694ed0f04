namespace Grokfast.Tests.Support;

/// <summary>Tests that read process-wide counters (live tensors, managed heap) run alone, not beside other classes.</summary>
[CollectionDefinition(nameof(ProcessWideCounters), DisableParallelization = true)]
public sealed class ProcessWideCounters;
