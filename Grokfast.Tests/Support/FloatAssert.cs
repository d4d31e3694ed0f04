namespace Grokfast.Tests.Support;

/// <summary>
/// Relative-plus-absolute float comparison that names the first mismatching elements. With both tolerances 0 it
/// asks for equal values: what differs in one rounding fails (NaN matches NaN).
/// </summary>
internal static class FloatAssert
{
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol, double atol, string context = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        var mismatches = new List<string>();
        int count = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            bool close = Math.Abs(e - a) <= atol + rtol * Math.Abs(e) || (double.IsNaN(e) && double.IsNaN(a));
            if (close) continue;
            count++;
            if (mismatches.Count < 5) mismatches.Add($"[{i}] expected {e:R}, got {a:R}");
        }
        Assert.True(count == 0, $"{context}{count} of {expected.Length} elements differ beyond rtol {rtol}, atol {atol}: {string.Join("; ", mismatches)}");
    }
}
