namespace Grokfast.Tests.Support;

/// <summary>
/// The windowed mean as a plain loop over a ring of the last <c>window</c> gradients and a float64 running sum per
/// element, with the reference's rule for applying: the scalar loop the passes are checked against bit for bit (the
/// re-summing <see cref="ScalarWindowedMean"/> checks what it computes, within rounding).
/// </summary>
internal sealed class ScalarRunningWindow(int length, int windowSize, float lamb, bool mean, bool warmup, bool trigger)
{
    private long steps;

    /// <summary>The ring: slot s holds the gradient of the last step s modulo the window (zeros until written).</summary>
    public float[] Ring { get; } = new float[windowSize * length];

    public double[] Sums { get; } = new double[length];

    public void Step(float[] gradient)
    {
        long slot = steps % windowSize;
        long held = Math.Min(steps + 1, windowSize);
        bool apply = !warmup || (held == windowSize && !trigger);
        double scale = mean ? 1.0 / held : 1.0;
        for (int i = 0; i < length; i++)
        {
            float g = gradient[i];
            double sum = Sums[i] - Ring[slot * length + i] + g;
            Ring[slot * length + i] = g;
            Sums[i] = sum;
            if (apply) gradient[i] = g + lamb * (float)(sum * scale);
        }
        steps++;
    }
}
