using Grokfast.Kernels.HalfPrecision;
using ILGPU;

namespace Grokfast.Kernels.Adam;

/// <summary>
/// Where a 16-bit parameter's float32 value comes from and goes to in an ILGPU Adam kernel: the float32 master weights, or
/// the 16-bit parameter itself. A struct type argument, so each kernel is specialised per choice and the loop is written
/// once. Both take the master view; the direct choice never touches it (its launcher passes an empty one).
/// </summary>
/// <typeparam name="TFormat">The parameters' 16-bit format.</typeparam>
internal interface IHalfWeights<TFormat>
    where TFormat : struct, IHalfFormat
{
    /// <summary>Element <paramref name="i"/>'s value before the step.</summary>
    static abstract float Read(ArrayView<float> master, ArrayView<ushort> p, long i);

    /// <summary>Stores element <paramref name="i"/>'s value after the step.</summary>
    static abstract void Write(ArrayView<float> master, ArrayView<ushort> p, long i, float value);
}

/// <summary>
/// Master weights: the step updates the float32 copy exactly as a float32 parameter and writes the 16-bit parameter
/// rounded from it, so updates smaller than half an ulp of the 16-bit value still accumulate.
/// </summary>
internal readonly struct MasterWeights<TFormat> : IHalfWeights<TFormat>
    where TFormat : struct, IHalfFormat
{
    public static float Read(ArrayView<float> master, ArrayView<ushort> p, long i) => master[i];

    public static void Write(ArrayView<float> master, ArrayView<ushort> p, long i, float value)
    {
        master[i] = value;
        p[i] = TFormat.Narrow(value);
    }
}

/// <summary>No master weights: the 16-bit parameter is widened, updated in float32 and rounded back (updates below half an ulp are lost).</summary>
internal readonly struct DirectWeights<TFormat> : IHalfWeights<TFormat>
    where TFormat : struct, IHalfFormat
{
    public static float Read(ArrayView<float> master, ArrayView<ushort> p, long i) => TFormat.Widen(p[i]);

    public static void Write(ArrayView<float> master, ArrayView<ushort> p, long i, float value) => p[i] = TFormat.Narrow(value);
}
