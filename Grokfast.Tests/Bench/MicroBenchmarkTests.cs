using BenchmarkDotNet.Running;
using Grokfast.Bench.Micro;

namespace Grokfast.Tests.Bench;

public sealed class MicroBenchmarkTests
{
    [Fact]
    public void Suite_IsDiscoveredByBenchmarkDotNet_WithEveryFilterShapeAndVersion()
    {
        BenchmarkRunInfo info = BenchmarkConverter.TypeToBenchmarks(typeof(FilterStepBenchmarks), MicroCommand.Config);

        Assert.DoesNotContain(info.BenchmarksCases, c => c.Descriptor.WorkloadMethod is null);
        Assert.Equal(4 * 3 * 3, info.BenchmarksCases.Length);
        Assert.Single(info.BenchmarksCases.Select(c => c.Descriptor).Distinct(), d => d.Baseline);
    }

    [Theory]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void EveryBenchmarkMethod_OnATinyShape_RunsThroughSetupAndCleanup(string filter)
    {
        var suite = new FilterStepBenchmarks { Filter = filter, Shape = BenchmarkShape.Tiny };
        suite.Setup();
        try
        {
            suite.Literal();
            suite.InPlace();
            suite.Fused();
            suite.Copy();
            Assert.Equal(1_000, suite.Elements);
        }
        finally
        {
            suite.Cleanup();
        }
    }
}
