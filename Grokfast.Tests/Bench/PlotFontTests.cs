using Grokfast.Tests.Support;
using SkiaSharp;

namespace Grokfast.Tests.Bench;

/// <summary>
/// Every picture the app draws carries its text on a machine without system fonts (a server, a container, the GPU
/// machine), and looks the same as where fonts are installed: the app ships its font and always uses it.
/// </summary>
[Collection(nameof(ChildProcesses))]
public sealed class PlotFontTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-fonts-").FullName;

    private static string GoldenGradients => Path.Combine(AppContext.BaseDirectory, "Golden", "grads.npy");

    [Fact]
    public void ReplayPlot_WithoutSystemFonts_HasItsTextAndEqualsThePlotDrawnWithThem()
    {
        SkipUnlessFontsCanBeHidden();
        string[] replay = ["replay", "--filter", "ema", "--input", GoldenGradients, "--element", "5"];
        string withFonts = Path.Combine(folder, "with-fonts.png"), withoutFonts = Path.Combine(folder, "without-fonts.png");

        var normal = BenchProcess.Run([.. replay, "--output", Path.Combine(folder, "a.npy"), "--plot", withFonts]);
        var fontless = BenchProcess.RunWithoutSystemFonts([.. replay, "--output", Path.Combine(folder, "b.npy"), "--plot", withoutFonts]);

        Assert.True(normal.ExitCode == 0, normal.Error);
        Assert.True(fontless.ExitCode == 0, fontless.Error);
        AssertTitleIsDrawn(withoutFonts);
        Assert.Equal(Pixels(withFonts), Pixels(withoutFonts));
    }

    [Fact]
    public void GrokCurves_WithoutSystemFonts_HaveTheirText()
    {
        SkipUnlessFontsCanBeHidden();

        var fontless = BenchProcess.RunWithoutSystemFonts(["grok", .. BenchProcess.TinyGrok, "--filter", "ema", "--steps", "10", "--out", folder]);

        Assert.True(fontless.ExitCode == 0, fontless.Error);
        AssertTitleIsDrawn(Path.Combine(folder, "curves.png"));
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private static void SkipUnlessFontsCanBeHidden() =>
        Assert.SkipUnless(BenchProcess.CanHideSystemFonts.Value, "This machine does not allow `unshare -rm`, which hides the system fonts from the app.");

    /// <summary>The title sits centred in the top band, where nothing but text is drawn: without text the band is blank.</summary>
    private static void AssertTitleIsDrawn(string png)
    {
        using SKBitmap bitmap = SKBitmap.Decode(png);
        int dark = 0;
        for (int y = 0; y < 20; y++)
            for (int x = bitmap.Width / 4; x < 3 * bitmap.Width / 4; x++)
                if (bitmap.GetPixel(x, y).Red < 128) dark++;
        Assert.True(dark > 40, $"{Path.GetFileName(png)}: {dark} dark pixels where the title should be; the text was not drawn.");
    }

    private static uint[] Pixels(string png)
    {
        using SKBitmap bitmap = SKBitmap.Decode(png);
        return bitmap.Pixels.Select(p => (uint)p).ToArray();
    }
}
