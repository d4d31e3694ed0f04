using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Grokfast.Bench.Support;
using static TorchSharp.torch;

namespace Grokfast.Bench.Throughput;

/// <summary>The <c>throughput</c> verb: a quick side-by-side timing of each fused filter and of the fused optimizer.</summary>
internal static class ThroughputCommand
{
    public static Command Create()
    {
        var elements = new Option<long>("--elements") { Description = "Gradient elements, spread evenly over the tensors.", DefaultValueFactory = _ => 10_000_000 };
        var tensors = new Option<int>("--tensors") { Description = "Parameter tensors the elements are spread over.", DefaultValueFactory = _ => 20 };
        var json = new Option<bool>("--json") { Description = "Print the figures as one JSON object." };
        var dtype = new Option<string>("--dtype")
        {
            Description = "The parameters' and gradients' dtype: float32, bfloat16 or float16 (16-bit: the filters' state and the optimizer's master weights float32).",
            DefaultValueFactory = _ => "float32",
        };
        dtype.AcceptOnlyFromAmong(DtypeOption.Names);
        var command = new Command("throughput", "Time each fused filter against tensor ops and a plain copy of the same bytes, and the fused optimizer against the filter followed by TorchSharp's Adam.") { elements, tensors, dtype, json };
        elements.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<long>() < 1) result.AddError("--elements must be at least 1.");
        });
        tensors.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError("--tensors must be at least 1.");
        });
        command.SetAction(parse => Run(parse.GetValue(elements), parse.GetValue(tensors), parse.GetValue(dtype)!, parse.GetValue(json)));
        return command;
    }

    private static int Run(long elements, int tensors, string dtypeName, bool json)
    {
        if (tensors > elements)
        {
            Console.Error.WriteLine($"--tensors ({tensors}) must not exceed --elements ({elements}).");
            return 2;
        }
        ScalarType dtype = DtypeOption.Parse(dtypeName);
        NativeHeap.ReturnLargeBlocksToTheSystem();
        var filters = FilterVersions.All.ToDictionary(f => f.Name, f => FilterMeasurement.Measure(f, elements, tensors, dtype));
        var optimizers = OptimizerMeasurement.Filters.ToDictionary(f => f, f => OptimizerMeasurement.Measure(f, elements, tensors, dtype));
        VariantThroughput variants = OptimizerVariants.Measure(elements, tensors, dtype);
        string machine = MachineInfo.Describe();
        double copyGBps = MachineInfo.CopyGBps();
        if (json)
        {
            var report = new
            {
                machine,
                copy_gbps = copyGBps,
                elements,
                tensors,
                dtype = dtypeName,
                filters = filters.ToDictionary(f => f.Key, f => new
                {
                    fused_ms = f.Value.FusedMs,
                    fused_unguarded_ms = f.Value.FusedUnguardedMs,
                    literal_ms = f.Value.LiteralMs,
                    inplace_ms = f.Value.InPlaceMs,
                    copy_ms = f.Value.CopyMs,
                    fused_gbps = f.Value.FusedGBps,
                    copy_gbps = f.Value.CopyGBps,
                    speedup_vs_literal = f.Value.SpeedupVsLiteral,
                    speedup_vs_inplace = f.Value.SpeedupVsInPlace,
                    bandwidth_ratio = f.Value.BandwidthRatio,
                    rmw_ms = f.Value.ReadModifyWriteMs,
                    rmw_gbps = f.Value.ReadModifyWriteGBps,
                    bandwidth_ratio_rmw = f.Value.ReadModifyWriteRatio,
                    unguarded_bandwidth_ratio_rmw = f.Value.UnguardedReadModifyWriteRatio,
                    bytes_per_element = f.Value.BytesPerElement,
                    unguarded_bytes_per_element = f.Value.UnguardedBytesPerElement,
                }),
                optimizers = optimizers.ToDictionary(o => o.Key, o => new
                {
                    fused_ms = o.Value.FusedMs,
                    separate_ms = o.Value.SeparateMs,
                    speedup_vs_separate = o.Value.SpeedupVsSeparate,
                    bytes_per_element = o.Value.BytesPerElement,
                    fused_gbps = o.Value.FusedGBps,
                    rmw_ms = o.Value.ReadModifyWriteMs,
                    rmw_gbps = o.Value.ReadModifyWriteGBps,
                    bandwidth_ratio_rmw = o.Value.ReadModifyWriteRatio,
                }),
                adamw_ema = new
                {
                    one_group_ms = variants.OneGroupMs,
                    two_groups_ms = variants.TwoGroupsMs,
                    fused_clipping_ms = variants.FusedClippingMs,
                    clip_grad_norm_then_fused_ms = variants.ClipThenFusedMs,
                    two_groups_ratio = variants.TwoGroupsRatio,
                    fused_clipping_ratio = variants.FusedClippingRatio,
                    clip_grad_norm_then_fused_ratio = variants.ClipThenFusedRatio,
                },
            };
            Console.WriteLine(JsonSerializer.Serialize(report));
            return 0;
        }
        Console.WriteLine($"{machine}, copy {copyGBps:F1} GB/s; {elements:N0} {dtypeName} elements in {tensors:N0} tensors; medians of 15 steps, taken in turn");
        Console.WriteLine("filter  fused ms  GB/s   no-guard ms  guard  literal ms  in-place ms  copy ms  copy GB/s  vs literal  vs in-place  fused/copy  rmw GB/s  fused/rmw  no-guard/rmw");
        foreach ((string name, FilterThroughput t) in filters)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-6}  {t.FusedMs,8:F2}  {t.FusedGBps,5:F1}  {t.FusedUnguardedMs,11:F2}  {t.GuardCost,5:P0}  {t.LiteralMs,10:F2}  {t.InPlaceMs,11:F2}  {t.CopyMs,7:F2}  {t.CopyGBps,9:F1}  {t.SpeedupVsLiteral,9:F1}x  {t.SpeedupVsInPlace,10:F1}x  {t.BandwidthRatio,9:F2}x  {t.ReadModifyWriteGBps,8:F1}  {t.ReadModifyWriteRatio,8:F2}x  {t.UnguardedReadModifyWriteRatio,11:F2}x"));
        }
        Console.WriteLine();
        Console.WriteLine("Adam + filter  fused ms  separate ms  vs separate  B/elem  fused GB/s  rmw GB/s  fused/rmw   (separate: the filter's step(), then TorchSharp's Adam.step())");
        foreach ((string name, OptimizerThroughput o) in optimizers)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-13}  {o.FusedMs,8:F2}  {o.SeparateMs,11:F2}  {o.SpeedupVsSeparate,10:F1}x  {o.BytesPerElement,6}  {o.FusedGBps,10:F1}  {o.ReadModifyWriteGBps,8:F1}  {o.ReadModifyWriteRatio,8:F2}x"));
        }
        Console.WriteLine();
        Console.WriteLine("AdamW + ema    one group ms  two groups ms  fused clipping ms  clip_grad_norm_ then fused ms   (each against one group)");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"               {variants.OneGroupMs,12:F2}  {variants.TwoGroupsMs,8:F2} {variants.TwoGroupsRatio,5:F2}x  {variants.FusedClippingMs,12:F2} {variants.FusedClippingRatio,5:F2}x  {variants.ClipThenFusedMs,23:F2} {variants.ClipThenFusedRatio,5:F2}x"));
        return 0;
    }
}
