using System.Text.Json;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Bench;

[Collection(nameof(ChildProcesses))]
public sealed class GpuCheckCommandTests
{
    [NoCudaFact]
    public void GpuCheck_WithoutAGpu_ExitsWithThreeSayingWhy()
    {
        var (exitCode, _, error) = BenchProcess.Run("gpu-check", "--elements", "1000");

        Assert.Equal(3, exitCode);
        Assert.Contains("gpu-check needs a CUDA device, and the CUDA driver", error, StringComparison.Ordinal);
    }

    [NoCudaFact]
    public void GpuOptimizers_WithoutAGpu_ExitsWithThreeSayingWhy()
    {
        var (exitCode, _, error) = BenchProcess.Run("gpu-optimizers", "--elements", "1000");

        Assert.Equal(3, exitCode);
        Assert.Contains("gpu-optimizers needs a CUDA device", error, StringComparison.Ordinal);
    }

    [CudaFact]
    [Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
    public void GpuOptimizersJson_OnAGpu_FindsNoMismatchAndCoversGpt2Small()
    {
        var (exitCode, output, error) = BenchProcess.Run("gpu-optimizers", "--elements", "1000003", "--steps", "4", "--json");

        Assert.True(exitCode == 0, error + output);
        using JsonDocument report = JsonDocument.Parse(output);
        foreach (JsonProperty set in report.RootElement.GetProperty("sets").EnumerateObject())
        {
            foreach (string filter in new[] { "none", "ema", "ma", "kalman" })
            {
                JsonElement figures = set.Value.GetProperty(filter);
                Assert.Equal(0, figures.GetProperty("mismatches").GetInt64());
                Assert.True(figures.GetProperty("fused_ms").GetDouble() > 0, $"{set.Name}.{filter}.fused_ms is not positive");
            }
        }
        Assert.True(report.RootElement.GetProperty("sets").TryGetProperty("gpt2-small", out _));
    }

    [Fact]
    public void GpuCheck_FewerThanTwoSteps_ExitsWithTwoNamingTheOption()
    {
        var (exitCode, output, error) = BenchProcess.Run("gpu-check", "--steps", "1");

        Assert.Equal(2, exitCode);
        Assert.Contains("--steps must be at least 2", output + error, StringComparison.Ordinal);
    }

    [CudaFact]
    [Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
    public void GpuCheckJson_OnAGpu_FindsNoMismatchAndPositiveFigures()
    {
        var (exitCode, output, error) = BenchProcess.Run("gpu-check", "--elements", "1000003", "--steps", "12", "--json");

        Assert.True(exitCode == 0, error + output);
        using JsonDocument report = JsonDocument.Parse(output);
        foreach (string filter in new[] { "ema", "ma", "kalman" })
        {
            foreach (string step in new[] { "guarded", "unguarded" })
            {
                JsonElement figures = report.RootElement.GetProperty("filters").GetProperty(filter).GetProperty(step);
                Assert.Equal(0, figures.GetProperty("mismatches").GetInt64());
                foreach (string field in new[] { "fused_ms", "fused_gbps", "copy_ms", "copy_gbps", "bandwidth_ratio" })
                    Assert.True(figures.GetProperty(field).GetDouble() > 0, $"{filter}.{step}.{field} is not positive");
            }
        }
    }
}
