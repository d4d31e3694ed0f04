using Grokfast.Kernels.Backends;
using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>The flat buffer of the gradients of one format in one parameter group: parameters [First, End) of the layout, elements [Base, Base + Length).</summary>
/// <param name="Format">The gradients' element type.</param>
/// <param name="Tensor">The buffer every gradient of the group is a view of.</param>
/// <param name="Address">Address of its first element.</param>
/// <param name="Base">Layout index of its first element: where the group's part of the moments and the MA's sums starts.</param>
/// <param name="Length">Elements in it.</param>
/// <param name="First">Index of its first parameter.</param>
/// <param name="End">Index one past its last parameter.</param>
internal sealed record GradientGroup(GradientFormat Format, Tensor Tensor, nint Address, long Base, long Length, int First, int End)
{
    /// <summary>
    /// Where the group's part of the filters' state starts in the state of its precision: float32 state for the float32
    /// and 16-bit groups, one after another; float64 state for the float64 group. Equal to <see cref="Base"/> in a model
    /// without float64 parameters.
    /// </summary>
    public long StateBase { get; init; }

    /// <summary>The parameter group its parameters belong to (0 for a filter, which has one).</summary>
    public int ParamGroup { get; init; }
}
