namespace Grokfast.Kernels.Backends;

/// <summary>One element after a filter step: the amplified gradient and the filter's new state for that element.</summary>
/// <param name="Gradient">The gradient with the slow component added.</param>
/// <param name="State">The filter's state for the element after the step (the EMA's average, the Kalman estimate).</param>
internal readonly record struct FilteredElement(float Gradient, float State);
