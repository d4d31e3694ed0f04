namespace Grokfast.Kernels.Engine;

/// <summary>What a pass does after the filter: see <see cref="IPassUpdate"/>.</summary>
public enum PassUpdate
{
    /// <summary>Write the filtered gradient back (<see cref="Engine.WriteBack"/>).</summary>
    WriteBack,

    /// <summary>Adam/AdamW on the parameters in their own format (<see cref="Engine.AdamDirect"/>).</summary>
    AdamDirect,

    /// <summary>Adam/AdamW on float32 master weights of 16-bit parameters (<see cref="Engine.AdamMaster"/>).</summary>
    AdamMaster,
}

/// <summary>
/// Where a pass's streams lie: flat buffers of <see cref="Length"/> elements in one layout (host or device memory,
/// matching the backend). Streams a pass does not use are 0.
/// </summary>
/// <param name="Gradients">The gradients, in their format.</param>
/// <param name="Estimates">The filter's float32 estimates: <paramref name="Slots"/> slots of <see cref="Length"/>, one after another.</param>
/// <param name="Sums">The filter's float64 sums.</param>
/// <param name="Master">float32 master weights.</param>
/// <param name="Parameters">The parameters, in the gradients' format.</param>
/// <param name="FirstMoments">Adam's float32 first moments.</param>
/// <param name="SecondMoments">Adam's float32 second moments.</param>
/// <param name="Length">Elements in each stream (each estimate slot).</param>
/// <param name="Slots">Estimate slots (the windowed mean's window; 1 for the EMA and Kalman filters).</param>
public readonly record struct PassBuffers(nint Gradients, nint Estimates, nint Sums, nint Master, nint Parameters, nint FirstMoments,
    nint SecondMoments, long Length, int Slots)
{
    /// <summary>Buffers for a filter that writes the gradient back.</summary>
    public static PassBuffers Filter(nint gradients, nint estimates, nint sums, long length, int slots) => new(gradients, estimates, sums, 0, 0, 0, 0, length, slots);

    /// <summary>These buffers with Adam's streams.</summary>
    public PassBuffers WithAdam(nint master, nint parameters, nint firstMoments, nint secondMoments) =>
        this with { Master = master, Parameters = parameters, FirstMoments = firstMoments, SecondMoments = secondMoments };

    /// <summary>Throws naming the first stream a pass of <typeparamref name="TFilter"/> ending in <paramref name="update"/> needs and lacks.</summary>
    public void Validate<TFilter>(PassUpdate update)
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(Length);
        if (Length == 0) return;
        Require(Gradients, nameof(Gradients));
        if (TFilter.KeepsEstimate)
        {
            Require(Estimates, nameof(Estimates));
            ArgumentOutOfRangeException.ThrowIfLessThan(Slots, 1, nameof(Slots));
        }
        if (TFilter.KeepsSum) Require(Sums, nameof(Sums));
        if (update == PassUpdate.WriteBack) return;
        Require(Parameters, nameof(Parameters));
        Require(FirstMoments, nameof(FirstMoments));
        Require(SecondMoments, nameof(SecondMoments));
        if (update == PassUpdate.AdamMaster) Require(Master, nameof(Master));
    }

    /// <summary>
    /// Checks that elements [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) lie in the
    /// buffers and this step's estimate slot in the ring; returns the slot's offset in the estimates.
    /// </summary>
    public long CheckRun<TFilter>(long offset, long length, TFilter step)
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length - offset);
        long slot = TFilter.EstimateOffset(step, Length);
        if (TFilter.KeepsEstimate && (slot < 0 || slot > (Slots - 1) * Length))
            throw new ArgumentOutOfRangeException(nameof(step), step, $"The step's estimates start at {slot}, outside the {Slots} slots of {Length}.");
        return slot;
    }

    /// <summary>
    /// Whether every stream of a run from <paramref name="offset"/> starts on 16 bytes, and the estimate slots are 16 bytes
    /// apart, so the ILGPU pass may move four elements per access. libtorch's allocations are aligned, so in a normal loop
    /// (one run from offset 0, lengths a multiple of 4) they are.
    /// </summary>
    public bool AlignedAt(long offset) =>
        ((Gradients | Estimates | Sums | Master | Parameters | FirstMoments | SecondMoments) & 15) == 0 && offset % 4 == 0 && (Slots <= 1 || Length % 4 == 0);

    private static void Require(nint address, string name)
    {
        if (address == 0) throw new ArgumentException($"The pass needs its {name} buffer, but its address is 0.", name);
    }
}
