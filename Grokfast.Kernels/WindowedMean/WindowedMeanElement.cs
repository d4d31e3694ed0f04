namespace Grokfast.Kernels.WindowedMean;

/// <summary>One element after a windowed-mean step.</summary>
/// <param name="Gradient">The gradient with <c>lamb</c> times the window's mean (or sum) added; written when the step applies.</param>
/// <param name="Sum">The running float64 sum of the window after the step.</param>
internal readonly record struct WindowedMeanElement(float Gradient, double Sum);
