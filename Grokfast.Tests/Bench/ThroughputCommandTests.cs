using System.Text.Json;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Bench;

public sealed class ThroughputCommandTests
{
    private static readonly string[] Fields =
        ["fused_ms", "fused_unguarded_ms", "literal_ms", "inplace_ms", "copy_ms", "fused_gbps", "copy_gbps", "speedup_vs_literal", "speedup_vs_inplace", "bandwidth_ratio", "rmw_ms", "rmw_gbps", "bandwidth_ratio_rmw"];

    [Fact]
    public void ThroughputJson_OnASmallSize_HasEveryFieldWithPositiveFigures()
    {
        var (exitCode, output, error) = BenchProcess.Run("throughput", "--elements", "20000", "--json");

        Assert.True(exitCode == 0, error);
        using JsonDocument report = JsonDocument.Parse(output);
        JsonElement root = report.RootElement;
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("machine").GetString()));
        Assert.Equal(20000, root.GetProperty("elements").GetInt64());
        foreach (string filter in new[] { "ema", "ma", "kalman" })
        {
            JsonElement figures = root.GetProperty("filters").GetProperty(filter);
            foreach (string field in Fields)
                Assert.True(figures.GetProperty(field).GetDouble() > 0, $"{filter}.{field} is not positive");
        }
    }
}
