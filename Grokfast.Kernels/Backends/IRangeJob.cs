namespace Grokfast.Kernels.Backends;

/// <summary>
/// Work over a flat range that <see cref="CpuParallel"/> splits into disjoint chunks. A struct that lives
/// on the caller's stack for the length of the call, so a step hands work to other threads without
/// allocating a closure. <see cref="Run"/> must not throw: it may run on a native thread.
/// </summary>
internal interface IRangeJob
{
    /// <summary>Processes elements [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>).</summary>
    void Run(long start, long count);
}
