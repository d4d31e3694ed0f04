namespace Grokfast.Filters;

/// <summary>
/// Consecutive parameters [First, End) that all have a gradient this step and have been filtered equally
/// often, so one launch with one set of step constants covers their slice of the flat buffer.
/// </summary>
/// <param name="First">Index of the run's first parameter.</param>
/// <param name="End">Index one past its last parameter.</param>
/// <param name="Offset">Flat-buffer index of its first element.</param>
/// <param name="Length">Elements it covers.</param>
/// <param name="StepsBefore">Steps its parameters were filtered before this one, as the host counts them (the CPU path; on CUDA the device keeps the count).</param>
internal readonly record struct ParameterRun(int First, int End, long Offset, long Length, long StepsBefore);
