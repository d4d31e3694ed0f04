using System.Text.Json;
using Grokfast.Bench.Npy;

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
}
