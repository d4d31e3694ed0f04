using Grokfast.Bench.Grokking;

namespace Grokfast.Tests.Grokking;

public sealed class GrokSeedSummaryTests
{
    [Fact]
    public void Of_AllReached_GivesTheMedianAndRange()
    {
        GrokSeedSummary s = GrokSeedSummary.Of("ema", [(960, 1200), (880, 1200), (1140, 1200)]);

        Assert.Equal((3, 3, 960.0, 880, 1140, 1200), (s.Seeds, s.Reached, s.Median!.Value, s.Fastest!.Value, s.Slowest!.Value, s.Budget));
    }

    [Fact]
    public void Of_AnEvenCount_AveragesTheMiddleTwo()
    {
        GrokSeedSummary s = GrokSeedSummary.Of("ema", [(900, 1200), (1000, 1200), (700, 1200), (1100, 1200)]);

        Assert.Equal(950.0, s.Median);
    }

    [Fact]
    public void Of_SomeNotReached_CountsThemAsLaterThanEveryOneThatDid()
    {
        // Sorted: 810, 990, (not), (not), (not): the median is the third, which did not reach it.
        GrokSeedSummary none = GrokSeedSummary.Of("ma", [(null, 1200), (810, 1200), (null, 1200), (990, 1200), (null, 1200)]);
        // Sorted: 810, 990, 1100, (not), (not): the median is 1100.
        GrokSeedSummary some = GrokSeedSummary.Of("ma", [(null, 1200), (810, 1200), (1100, 1200), (990, 1200), (null, 1200)]);

        Assert.Equal((2, (double?)null, 810, 990), (none.Reached, none.Median, none.Fastest!.Value, none.Slowest!.Value));
        Assert.Equal((3, 1100.0), (some.Reached, some.Median!.Value));
    }

    [Fact]
    public void Of_NoneReached_HasNoMedianOrRange()
    {
        GrokSeedSummary s = GrokSeedSummary.Of("baseline", [(null, 800), (null, 810)]);

        Assert.Equal((0, (double?)null, (int?)null, 810), (s.Reached, s.Median, s.Fastest, s.Budget));
    }

    [Fact]
    public void Of_RunsThatStoppedEarly_KeepTheirWholeBudget()
    {
        GrokRunSettings settings = GrokCommand.DefaultRuns[1] with { Steps = 2000 };
        GrokRunResult Result(int steps) =>
            new(settings, 0, StoppedEarly: true, steps, steps, null, 1, 0.95, 1, GrokOptimizer.Fused, TorchSharp.torch.ScalarType.Float32, 0, 1, 0, []);

        GrokSeedSummary s = GrokSeedSummary.Of("ema", [Result(960), Result(1600)]);

        Assert.Equal(2000, s.Budget);
    }
}
