using Grokfast.Bench.Plotting;
using ScottPlot;

namespace Grokfast.Bench.Replay;

/// <summary>Draws one element's raw and filtered gradient over the steps.</summary>
internal static class ResponsePlot
{
    public static void Save(string path, ReadOnlySpan<float> raw, ReadOnlySpan<float> filtered, int steps, int width, int element, string title)
    {
        double[] xs = Enumerable.Range(0, steps).Select(s => (double)s).ToArray();
        double[] rawValues = new double[steps], filteredValues = new double[steps];
        for (int step = 0; step < steps; step++)
        {
            rawValues[step] = raw[step * width + element];
            filteredValues[step] = filtered[step * width + element];
        }
        Plot plot = PlotFont.NewPlot();
        var rawLine = plot.Add.ScatterLine(xs, rawValues);
        rawLine.LegendText = "raw gradient";
        rawLine.LineWidth = 1;
        var filteredLine = plot.Add.ScatterLine(xs, filteredValues);
        filteredLine.LegendText = "after the filter";
        filteredLine.LineWidth = 1;
        // The difference is what the filter added: lamb times the slow component it extracted.
        var addedLine = plot.Add.ScatterLine(xs, filteredValues.Zip(rawValues, (f, r) => f - r).ToArray());
        addedLine.LegendText = "added (filtered - raw)";
        addedLine.LineWidth = 3;
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel($"gradient element {element}");
        plot.ShowLegend();
        plot.SavePng(path, 900, 450);
    }
}
