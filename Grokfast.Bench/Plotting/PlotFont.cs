using ScottPlot;

namespace Grokfast.Bench.Plotting;

/// <summary>
/// The font every picture the app draws uses: DejaVu Sans, shipped beside the app (Plotting/Fonts, with its
/// licence). ScottPlot otherwise asks the system for a font, and on a server or container without fonts every
/// title, label, tick and legend silently comes out blank; with the font shipped, a plot looks the same everywhere.
/// </summary>
internal static class PlotFont
{
    private const string Family = "DejaVu Sans (Grokfast.Bench)";

    private static readonly Lazy<string> Registered = new(() =>
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "Plotting", "Fonts");
        Fonts.AddFontFile(Family, Path.Combine(folder, "DejaVuSans.ttf"), bold: false, italic: false);
        Fonts.AddFontFile(Family, Path.Combine(folder, "DejaVuSans-Bold.ttf"), bold: true, italic: false);
        return Family;
    });

    /// <summary>A new plot whose every text element uses the shipped font.</summary>
    public static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set(Registered.Value);
        return plot;
    }
}
