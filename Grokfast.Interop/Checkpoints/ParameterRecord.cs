namespace Grokfast.Checkpoints;

/// <summary>One parameter a filter state was built for, and how often it had been filtered.</summary>
/// <param name="Name">Its name in the module.</param>
/// <param name="Shape">Its shape.</param>
/// <param name="StepsFiltered">Steps in which it had a gradient and was filtered.</param>
public sealed record ParameterRecord(string Name, long[] Shape, long StepsFiltered)
{
    /// <summary>Whether <paramref name="other"/> describes the same parameter (name and shape).</summary>
    public bool SameParameterAs(ParameterRecord other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Name == other.Name && Shape.AsSpan().SequenceEqual(other.Shape);
    }
}
