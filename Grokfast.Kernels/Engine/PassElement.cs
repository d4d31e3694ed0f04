using Grokfast.Kernels.Adam;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// One element's values as a pass loads them, in float32 (float64 for the sum): the gradient, the filter's state, and for
/// Adam the parameter (or its master) and the moments. State a pass does not keep is 0.
/// </summary>
internal readonly record struct PassElement(float G, float Estimate, double Sum, float Weight, float M, float V)
{
    /// <summary>
    /// The element's step, written once for the ILGPU pass and the CPU twin's scalar tail: the filter, then Adam on the
    /// filtered gradient, or the filtered gradient as the new <see cref="G"/>. Adam's constants may scale the raw gradient
    /// first (fused clipping: clip, then filter, as Hugging Face's Trainer and axolotl's Grokfast plugin order them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PassElement Step<TFilter, TUpdate>(PassElement e, PassConstants<TFilter> c)
        where TFilter : unmanaged, IFilterStep<TFilter>
        where TUpdate : struct, IPassUpdate
    {
        float g = TUpdate.IsAdam && c.Adam.GradientScale != 1 ? e.G * c.Adam.GradientScale : e.G;
        FilteredElement filtered = TFilter.Element(c.Filter, g, e.Estimate, e.Sum);
        if (!TUpdate.IsAdam) return new PassElement(filtered.Gradient, filtered.Estimate, filtered.Sum, 0, 0, 0);
        AdamElement adam = AdamStep.Element(filtered.Gradient, e.Weight, e.M, e.V, c.Adam);
        return new PassElement(e.G, filtered.Estimate, filtered.Sum, adam.Parameter, adam.FirstMoment, adam.SecondMoment);
    }
}
