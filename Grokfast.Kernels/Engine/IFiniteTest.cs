using System.Numerics;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// How the non-finite guard (<see cref="Backends.FiniteScan{TStore, TFormat}"/>) tests values of one format: one value
/// (the ILGPU scan and the host's tail), or a block of them on vector lanes (the host scan). Every gradient format is one;
/// so is float64, whose passes are its own.
/// </summary>
/// <typeparam name="TStore">The element as stored.</typeparam>
internal unsafe interface IFiniteTest<TStore>
    where TStore : unmanaged
{
    /// <summary>Whether <paramref name="value"/> is neither NaN nor ±infinity.</summary>
    static abstract bool IsFinite(TStore value);

    /// <summary>Nonzero lanes where any of the 2 × <c>Vector&lt;float&gt;.Count</c> values at <paramref name="source"/> is NaN or ±infinity.</summary>
    static abstract Vector<uint> NonFiniteLanes(TStore* source);
}
