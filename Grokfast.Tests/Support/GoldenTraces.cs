using System.Text.Json;
using Grokfast.Reference.Npy;

namespace Grokfast.Tests.Support;

/// <summary>The golden traces written by tools/golden/make_golden.py: raw gradients and each case's filtered ones.</summary>
internal static class GoldenTraces
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Golden");

    private static readonly Lazy<JsonElement> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "manifest.json"))).RootElement);

    public static long[][] Shapes => Manifest.Value.GetProperty("shapes").EnumerateArray()
        .Select(s => s.EnumerateArray().Select(d => d.GetInt64()).ToArray()).ToArray();

    public static IEnumerable<string> CaseNames => Manifest.Value.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!);

    public static JsonElement Options(string name) =>
        Manifest.Value.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name).GetProperty("options");

    public static (float[] Data, long[] Shape) Gradients() => NpyFile.ReadFloat32(Path.Combine(Folder, "grads.npy"));

    public static (float[] Data, long[] Shape) Expected(string name) => NpyFile.ReadFloat32(Path.Combine(Folder, $"{name}.npy"));

    /// <summary>The optimizer cases: each filter (or none) followed by torch.optim.Adam or AdamW over the same gradients.</summary>
    public static IEnumerable<string> OptimizerCaseNames =>
        Manifest.Value.GetProperty("optimizer_cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!);

    public static JsonElement OptimizerCase(string name) =>
        Manifest.Value.GetProperty("optimizer_cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>lr, beta1, beta2, eps and weight_decay of every optimizer case.</summary>
    public static JsonElement Adam => Manifest.Value.GetProperty("adam");

    public static int OptimizerSteps => Manifest.Value.GetProperty("optimizer_steps").GetInt32();

    public static float[] OptimizerInitial() => Read(Manifest.Value.GetProperty("optimizer_initial").GetString()!);

    /// <summary>A float32 array of the traces, by its file name.</summary>
    public static float[] Read(string file) => NpyFile.ReadFloat32(Path.Combine(Folder, file)).Data;
}
