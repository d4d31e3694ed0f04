using Grokfast.Checkpoints;

namespace Grokfast.Tests.Support;

/// <summary>Equality of two checkpoint states, field by field and byte for byte.</summary>
internal static class StateAssert
{
    public static void Same(GradientFilterState expected, GradientFilterState actual)
    {
        Assert.Equal(expected.Kind, actual.Kind);
        Assert.Equal(expected.StepCount, actual.StepCount);
        Assert.Equal(expected.Hyperparameters, actual.Hyperparameters);
        Assert.Equal(expected.Parameters.Select(p => (p.Name, string.Join(",", p.Shape), p.StepsFiltered)),
            actual.Parameters.Select(p => (p.Name, string.Join(",", p.Shape), p.StepsFiltered)));
        Assert.Equal(expected.Buffers.Keys.Order(), actual.Buffers.Keys.Order());
        foreach (string name in expected.Buffers.Keys) Assert.Equal(expected.Buffers[name], actual.Buffers[name]);
    }
}
