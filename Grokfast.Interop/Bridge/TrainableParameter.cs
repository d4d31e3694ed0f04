using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Grokfast.Bridge;

/// <summary>One trainable parameter and the slice of the flat gradient buffer that is its gradient.</summary>
/// <param name="Name">Its name in the module, as <c>named_parameters()</c> gives it.</param>
/// <param name="Parameter">The parameter itself.</param>
/// <param name="Offset">Index of its first element in the layout: its group's base plus its place in the group's buffer.</param>
/// <param name="Shape">Its shape, which the gradient view takes.</param>
internal sealed record TrainableParameter(string Name, Parameter Parameter, long Offset, long[] Shape)
{
    /// <summary>Which of the flat buffers (<see cref="FlatGradientBuffer.Groups"/>) holds its gradient; 0 in a model of one format.</summary>
    public int Group { get; init; }

    /// <summary>Elements in the parameter.</summary>
    public long Length { get; } = Shape.Aggregate(1L, (product, dimension) => product * dimension);
}
