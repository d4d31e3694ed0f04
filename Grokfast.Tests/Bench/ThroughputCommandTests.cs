using System.Text.Json;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Bench;

[Collection(nameof(ChildProcesses))]
public sealed class ThroughputCommandTests
{
    private static readonly string[] Fields =
        ["fused_ms", "fused_unguarded_ms", "literal_ms", "inplace_ms", "copy_ms", "fused_gbps", "copy_gbps", "speedup_vs_literal", "speedup_vs_inplace", "bandwidth_ratio", "rmw_ms", "rmw_gbps", "bandwidth_ratio_rmw",
            "unguarded_bandwidth_ratio_rmw"];

    [Fact]
    public void ThroughputJson_InBfloat16_CountsTheHalfPrecisionBytes()
    {
        var (exitCode, output, error) = BenchProcess.Run("throughput", "--elements", "20000", "--tensors", "3", "--dtype", "bfloat16", "--json");

        Assert.True(exitCode == 0, error);
        using JsonDocument report = JsonDocument.Parse(output);
        JsonElement root = report.RootElement;
        Assert.Equal("bfloat16", root.GetProperty("dtype").GetString());
        // The pass's bytes and the guard's read of the gradients (2 bytes each).
        foreach ((string filter, int bytesPerElement) in new[] { ("ema", 14), ("ma", 30), ("kalman", 14) })
        {
            JsonElement figures = root.GetProperty("filters").GetProperty(filter);
            Assert.Equal(bytesPerElement, figures.GetProperty("bytes_per_element").GetInt32());
            Assert.Equal(bytesPerElement * 20000 / (figures.GetProperty("fused_ms").GetDouble() * 1e6), figures.GetProperty("fused_gbps").GetDouble(), 1e-9);
        }
        // With master weights, the fused optimizers' pass moves as many bytes as on float32 parameters; the guard reads 2.
        foreach ((string filter, int bytesPerElement) in new[] { ("none", 30), ("ema", 38), ("ma", 54), ("kalman", 38) })
            Assert.Equal(bytesPerElement, root.GetProperty("optimizers").GetProperty(filter).GetProperty("bytes_per_element").GetInt32());
    }

    [Fact]
    public void ThroughputJson_OnASmallSize_HasEveryFieldWithPositiveFigures()
    {
        var (exitCode, output, error) = BenchProcess.Run("throughput", "--elements", "20000", "--tensors", "3", "--json");

        Assert.True(exitCode == 0, error);
        using JsonDocument report = JsonDocument.Parse(output);
        JsonElement root = report.RootElement;
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("machine").GetString()));
        Assert.Equal(20000, root.GetProperty("elements").GetInt64());
        Assert.Equal(3, root.GetProperty("tensors").GetInt32());
        // Counted with the guard's read of the gradients (4 bytes); the pass alone, without.
        foreach ((string filter, int bytesPerElement) in new[] { ("ema", 20), ("ma", 36), ("kalman", 20) })
        {
            JsonElement figures = root.GetProperty("filters").GetProperty(filter);
            foreach (string field in Fields)
                Assert.True(figures.GetProperty(field).GetDouble() > 0, $"{filter}.{field} is not positive");
            double Field(string name) => figures.GetProperty(name).GetDouble();
            // Each derived figure is what its name says, from the timings beside it.
            Assert.Equal(Field("literal_ms") / Field("fused_ms"), Field("speedup_vs_literal"), 1e-9);
            Assert.Equal(Field("inplace_ms") / Field("fused_ms"), Field("speedup_vs_inplace"), 1e-9);
            Assert.Equal(bytesPerElement * 20000 / (Field("fused_ms") * 1e6), Field("fused_gbps"), 1e-9);
            Assert.Equal(bytesPerElement * 20000 / (Field("copy_ms") * 1e6), Field("copy_gbps"), 1e-9);
            Assert.Equal(Field("fused_gbps") / Field("copy_gbps"), Field("bandwidth_ratio"), 1e-9);
            Assert.Equal(Field("fused_gbps") / Field("rmw_gbps"), Field("bandwidth_ratio_rmw"), 1e-9);
            Assert.Equal(bytesPerElement - 4, figures.GetProperty("unguarded_bytes_per_element").GetInt32());
            Assert.Equal((bytesPerElement - 4) * Field("rmw_ms") / (bytesPerElement * Field("fused_unguarded_ms")), Field("unguarded_bandwidth_ratio_rmw"), 1e-9);
        }
        foreach ((string filter, int bytesPerElement) in new[] { ("none", 32), ("ema", 40), ("ma", 56), ("kalman", 40) })
        {
            JsonElement figures = root.GetProperty("optimizers").GetProperty(filter);
            double Field(string name) => figures.GetProperty(name).GetDouble();
            foreach (string field in new[] { "fused_ms", "separate_ms", "speedup_vs_separate", "fused_gbps", "rmw_ms", "rmw_gbps", "bandwidth_ratio_rmw" })
                Assert.True(Field(field) > 0, $"optimizers.{filter}.{field} is not positive");
            Assert.Equal(bytesPerElement, figures.GetProperty("bytes_per_element").GetInt32());
            Assert.Equal(Field("separate_ms") / Field("fused_ms"), Field("speedup_vs_separate"), 1e-9);
            Assert.Equal(bytesPerElement * 20000 / (Field("fused_ms") * 1e6), Field("fused_gbps"), 1e-9);
            Assert.Equal(bytesPerElement * 20000 / (Field("rmw_ms") * 1e6), Field("rmw_gbps"), 1e-9);
            Assert.Equal(Field("fused_gbps") / Field("rmw_gbps"), Field("bandwidth_ratio_rmw"), 1e-9);
        }
    }

    [Theory]
    [InlineData("--tensors", "0", "--tensors must be at least 1")]
    [InlineData("--elements", "5", "--tensors (20) must not exceed --elements (5)")]
    public void Throughput_BadSizes_ExitsWithTwoNamingTheOption(string option, string value, string message)
    {
        var (exitCode, output, error) = BenchProcess.Run("throughput", option, value);

        Assert.Equal(2, exitCode);
        Assert.Contains(message, output + error);
    }
}
