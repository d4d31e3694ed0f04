namespace Grokfast.Kernels.Adam;

/// <summary>One parameter element after an Adam step.</summary>
/// <param name="Parameter">The updated parameter.</param>
/// <param name="FirstMoment">m after the step.</param>
/// <param name="SecondMoment">v after the step.</param>
internal readonly record struct AdamElement(float Parameter, float FirstMoment, float SecondMoment);
