namespace Grokfast.Filters;

/// <summary>
/// Consecutive parameters [First, End) of one gradient group that all have a gradient this step and share their step
/// counts, so one launch with one set of step constants covers their slice of the group's buffer.
/// </summary>
/// <param name="First">Index of the run's first parameter.</param>
/// <param name="End">Index one past its last parameter.</param>
/// <param name="Group">The gradient group (parameter group and format) its parameters belong to.</param>
/// <param name="Offset">Index of its first element in the group's buffer.</param>
/// <param name="Length">Elements it covers.</param>
/// <param name="StepsBefore">Steps its parameters were filtered before this one, as the host counts them (the CPU path; on CUDA the device keeps the count).</param>
/// <param name="UpdatesBefore">Optimizer steps (Adam's) its parameters took before this one, likewise; 0 for a filter on its own.</param>
internal readonly record struct ParameterRun(int First, int End, int Group, long Offset, long Length, long StepsBefore, long UpdatesBefore);
