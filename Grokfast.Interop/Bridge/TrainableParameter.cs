using static TorchSharp.torch;
using TorchSharp.Modules;

namespace Grokfast.Bridge;

/// <summary>One trainable parameter and the slice of the flat gradient buffer that is its gradient.</summary>
/// <param name="Name">Its name in the module, as <c>named_parameters()</c> gives it.</param>
/// <param name="Parameter">The parameter itself.</param>
/// <param name="Offset">Index of its first gradient element in the flat buffer.</param>
/// <param name="Shape">Its shape, which the gradient view takes.</param>
internal sealed record TrainableParameter(string Name, Parameter Parameter, long Offset, long[] Shape)
{
    /// <summary>Elements in the parameter.</summary>
    public long Length { get; } = Shape.Aggregate(1L, (product, dimension) => product * dimension);
}
