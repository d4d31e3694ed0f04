using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using System.Globalization;

namespace Grokfast.Bench.Micro;

/// <summary>
/// GB/s at the fused pass's bytes per element (kernels.md): the useful traffic of one step divided by the
/// row's mean time, so rows of one filter and shape compare directly with each other and with the copy.
/// </summary>
internal sealed class GigabytesPerSecondColumn : IColumn
{
    public string Id => nameof(GigabytesPerSecondColumn);
    public string ColumnName => "GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Gigabytes per second at the fused pass's bytes per element (filters: 16 EMA/Kalman, 32 MA; Adam + filter: 28 none, 36 EMA/Kalman, 52 MA)";

    private readonly Dictionary<BenchmarkShape, long> elements = [];

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        double? meanNanoseconds = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (meanNanoseconds is not > 0) return "-";
        string filter = (string)benchmarkCase.Parameters["Filter"];
        var shape = (BenchmarkShape)benchmarkCase.Parameters["Shape"];
        int bytesPerElement = benchmarkCase.Descriptor.Type == typeof(OptimizerStepBenchmarks)
            ? OptimizerStepBenchmarks.BytesPerElementOf(filter)
            : Throughput.FilterVersions.All.Single(v => v.Name == filter).BytesPerElement;
        double bytes = (double)bytesPerElement * ElementCount(shape);
        return (bytes / meanNanoseconds.Value).ToString("F1", CultureInfo.InvariantCulture);
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    /// <summary>Elements of the shape, counted on the module the benchmarks build, once per shape.</summary>
    private long ElementCount(BenchmarkShape shape)
    {
        if (!elements.TryGetValue(shape, out long count))
        {
            using var module = BenchmarkShapes.Create(shape);
            elements[shape] = count = module.parameters().Sum(p => p.numel());
        }
        return count;
    }
}
