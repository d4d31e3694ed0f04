namespace Grokfast.Tests.Support;

/// <summary>The reference windowed mean as a plain loop: a queue of past gradients, re-summed in float32 every step.</summary>
internal sealed class ScalarWindowedMean(int windowSize, float lamb, bool mean, bool warmup, bool trigger)
{
    private readonly Queue<float[]> window = new();

    public void Step(float[] gradient)
    {
        window.Enqueue((float[])gradient.Clone());
        if (window.Count > windowSize) window.Dequeue();
        if (!(!warmup || (window.Count == windowSize && !trigger))) return;
        for (int i = 0; i < gradient.Length; i++)
        {
            float sum = 0;
            foreach (float[] g in window) sum += g[i];
            float average = mean ? sum / window.Count : sum;
            gradient[i] += average * lamb;
        }
    }
}
