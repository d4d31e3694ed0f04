namespace Grokfast.Filters;

/// <summary>How the windowed filter turns the window of gradients into the amount it adds (the reference's <c>filter_type</c>).</summary>
public enum WindowAggregation
{
    /// <summary>The mean of the gradients held so far (<c>'mean'</c>).</summary>
    Mean,

    /// <summary>Their sum (<c>'sum'</c>).</summary>
    Sum,
}
