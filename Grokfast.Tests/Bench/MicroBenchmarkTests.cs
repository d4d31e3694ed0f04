using BenchmarkDotNet.Running;
using Grokfast.Bench.Micro;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;

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
    public void FusedLiteralAndInPlace_OnTheSameGradients_ComputeTheSameFilter(string filter)
    {
        var suite = new FilterStepBenchmarks { Filter = filter, Shape = BenchmarkShape.Tiny };
        suite.Setup();
        try
        {
            Assert.Equal(1_000, suite.Elements);
            // The benchmark times zeros; here every version gets the same real gradients once.
            for (int m = 0; m < 3; m++)
            {
                int seed = 0;
                foreach (Parameter p in suite.Models[m].parameters())
                    using (torch.no_grad()) p.grad!.copy_(torch.tensor(Gradients.Random((int)p.numel(), seed++)).reshape(p.shape));
            }

            suite.Fused();
            suite.Literal();
            suite.InPlace();
            suite.Copy();

            float[][] filtered = suite.Models.Select(model => TinyMlp.Flatten(model.parameters().Select(p => p.grad!))).ToArray();
            Assert.Contains(filtered[0], v => Math.Abs(v) > 0.1f);
            FloatAssert.Close(filtered[1], filtered[0], 1e-5, 1e-6, "fused vs literal: ");
            FloatAssert.Close(filtered[1], filtered[2], 1e-5, 1e-6, "in-place vs literal: ");
        }
        finally
        {
            suite.Cleanup();
        }
    }

    [Fact]
    public void OptimizerSuite_IsDiscoveredByBenchmarkDotNet_WithEveryFilterAndShape()
    {
        BenchmarkRunInfo info = BenchmarkConverter.TypeToBenchmarks(typeof(OptimizerStepBenchmarks), MicroCommand.Config);

        Assert.DoesNotContain(info.BenchmarksCases, c => c.Descriptor.WorkloadMethod is null);
        Assert.Equal(4 * 2 * 2, info.BenchmarksCases.Length);
        Assert.Single(info.BenchmarksCases.Select(c => c.Descriptor).Distinct(), d => d.Baseline);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void OptimizerSuite_FusedAndSeparate_OnTheSameGradients_TakeTheSameStep(string filter)
    {
        var suite = new OptimizerStepBenchmarks { Filter = filter, Shape = BenchmarkShape.Tiny };
        suite.Setup();
        try
        {
            // The benchmark steps on zeros; here both versions get the same real gradients, past MA's warm-up.
            for (int step = 0; step < 4; step++)
            {
                for (int m = 0; m < 2; m++)
                {
                    int seed = 10 * step;
                    foreach (Parameter p in suite.Models[m].parameters())
                        using (torch.no_grad()) p.grad!.copy_(torch.tensor(Gradients.Random((int)p.numel(), seed++)).reshape(p.shape));
                }
                suite.Fused();
                suite.Separate();
            }

            float[][] parameters = suite.Models.Select(model => TinyMlp.Flatten(model.parameters())).ToArray();
            Assert.Contains(parameters[0], v => Math.Abs(v) > 1e-4f);
            FloatAssert.Close(parameters[1], parameters[0], 1e-5, 1e-7, "fused vs separate: ");
        }
        finally
        {
            suite.Cleanup();
        }
    }
}
