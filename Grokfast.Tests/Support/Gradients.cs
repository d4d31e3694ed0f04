namespace Grokfast.Tests.Support;

/// <summary>Fixed-seed gradient-like data: a slow drift plus fast noise, as gradients over steps look.</summary>
internal static class Gradients
{
    public static float[] Random(int length, int seed)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(0.1 * Math.Sin(i * 0.01 + seed * 0.1) + (random.NextDouble() - 0.5));
        return values;
    }
}
