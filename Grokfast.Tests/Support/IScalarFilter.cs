namespace Grokfast.Tests.Support;

/// <summary>A filter written as a plain scalar loop: the oracle a kernel is checked against, bit for bit.</summary>
internal interface IScalarFilter
{
    /// <summary>The filter's state per element (the EMA's average, the Kalman estimate).</summary>
    float[] State { get; }

    /// <summary>Filters <paramref name="gradient"/> in place and advances the state.</summary>
    void Step(float[] gradient);
}
