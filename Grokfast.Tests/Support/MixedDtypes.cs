using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Support;

/// <summary>
/// The half-precision tests' models: parameters of awkward sizes in one dtype or a mix, fixed-seed values and gradients
/// rounded to each parameter's dtype, and a float32 twin laid out as the library lays the dtypes out (grouped by dtype,
/// in order of first appearance), which gets the same values widened.
/// </summary>
internal static class MixedDtypes
{
    public static readonly long[][] Shapes = [[7, 13], [13], [5, 3, 11], [1], [33], [40, 40]];

    /// <summary>bfloat16, float32 and float16 interleaved, as a model with float32 layer norms beside 16-bit weights has them.</summary>
    public static readonly ScalarType[] Mixed =
        [ScalarType.BFloat16, ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float32, ScalarType.Float16];

    /// <summary>Every parameter of <paramref name="dtype"/>.</summary>
    public static ScalarType[] All(ScalarType dtype) => Shapes.Select(_ => dtype).ToArray();

    /// <summary>The parameters' indices in the library's layout: grouped by dtype, dtypes in order of first appearance.</summary>
    public static int[] LayoutOrder(ScalarType[] dtypes) =>
        dtypes.Distinct().SelectMany(dtype => Enumerable.Range(0, dtypes.Length).Where(i => dtypes[i] == dtype)).ToArray();

    /// <summary>A float32 model of the same parameters in the library's layout of <paramref name="dtypes"/>.</summary>
    public static DtypeModule Float32Twin(ScalarType[] dtypes) =>
        new(LayoutOrder(dtypes).Select(i => Shapes[i]).ToArray(), dtypes.Select(_ => ScalarType.Float32).ToArray());

    /// <summary>Where parameter <paramref name="index"/> of a model of <paramref name="dtypes"/> sits in its float32 twin.</summary>
    public static int TwinIndex(ScalarType[] dtypes, int index) => Array.IndexOf(LayoutOrder(dtypes), index);

    /// <summary>Step <paramref name="step"/>'s gradients, rounded to each dtype; the twin (if any) gets them widened.</summary>
    public static void SetGradients(DtypeModule model, ScalarType[] dtypes, int step, DtypeModule? twin = null) =>
        Write(model, dtypes, seed: i => 100 * step + i, twin, gradient: true);

    /// <summary>Fixed-seed starting values, rounded to each dtype; the twin (if any) gets them widened.</summary>
    public static void SetValues(DtypeModule model, ScalarType[] dtypes, DtypeModule? twin = null) =>
        Write(model, dtypes, seed: i => 1000 + i, twin, gradient: false);

    private static void Write(DtypeModule model, ScalarType[] dtypes, Func<int, int> seed, DtypeModule? twin, bool gradient)
    {
        for (int i = 0; i < dtypes.Length; i++)
        {
            int length = (int)Shapes[i].Aggregate(1L, (a, b) => a * b);
            using Tensor values = torch.tensor(Gradients.Random(length, seed(i))).reshape(Shapes[i]);
            using Tensor rounded = values.to(dtypes[i]);
            Set(model, i, rounded, gradient);
            if (twin is null) continue;
            using Tensor widened = rounded.to(ScalarType.Float32);
            Set(twin, TwinIndex(dtypes, i), widened, gradient);
        }
    }

    private static void Set(DtypeModule model, int index, Tensor values, bool gradient)
    {
        if (gradient) model.SetGradient(index, values);
        else model.SetValues(index, values);
    }
}
