using Grokfast.Kernels.Backends;

namespace Grokfast.Kernels.Distributed;

/// <summary>
/// The collectives data-parallel training needs, over flat buffers of one element type (any <see cref="GradientFormat"/>;
/// 16-bit values are summed in float32 and rounded once per addition): what the filters and the fused
/// optimizers call to average their flat gradient buffers across ranks. Every rank calls each collective in the same
/// order with the same counts; a call returns when this rank's part is done.
/// </summary>
public interface ICommunicator : IDisposable
{
    /// <summary>This process's rank, in [0, <see cref="WorldSize"/>).</summary>
    int Rank { get; }

    /// <summary>Processes taking part.</summary>
    int WorldSize { get; }

    /// <summary>Whether the buffers this communicator reads and writes are in device memory (NCCL) rather than host memory (MPI).</summary>
    bool TakesDeviceMemory { get; }

    /// <summary>Sums the <paramref name="count"/> elements at <paramref name="buffer"/> over every rank, in place: afterwards every rank holds the sum.</summary>
    void AllReduceSum(nint buffer, long count, GradientFormat format);

    /// <summary>
    /// Sums the elements at <paramref name="send"/> — blocks of <paramref name="counts"/>[0], [1], … elements, one per
    /// rank, one after another — over every rank, and leaves this rank's block of the sum at <paramref name="receive"/>.
    /// </summary>
    void ReduceScatterSum(nint send, nint receive, ReadOnlySpan<int> counts, GradientFormat format);

    /// <summary>
    /// Gathers in place: <paramref name="buffer"/> holds one block per rank (<paramref name="counts"/>[r] elements each,
    /// one after another); every rank's own block goes to every other rank's copy.
    /// </summary>
    void AllGatherInPlace(nint buffer, ReadOnlySpan<int> counts, GradientFormat format);

    /// <summary>The sum of every rank's <paramref name="value"/>.</summary>
    double AllReduceSum(double value);

    /// <summary>The largest of every rank's <paramref name="value"/>.</summary>
    double AllReduceMax(double value);
}
