namespace Grokfast.Optim;

/// <summary>Where one gradient group's part of a fused optimizer's buffers lies (device or host addresses).</summary>
/// <param name="Parameters">The group's flat parameter buffer (of the group's dtype).</param>
/// <param name="Master">The group's float32 master weights, or 0 (float32 groups, or master weights off).</param>
/// <param name="FirstMoments">exp_avg at the group's first element.</param>
/// <param name="SecondMoments">exp_avg_sq at the group's first element.</param>
internal readonly record struct FusedAdamBuffers(nint Parameters, nint Master, nint FirstMoments, nint SecondMoments);
