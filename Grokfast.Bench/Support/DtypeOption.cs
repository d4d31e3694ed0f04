using static TorchSharp.torch;

namespace Grokfast.Bench.Support;

/// <summary>The <c>--dtype</c> option's spellings (float32, bfloat16, float16) and the dtypes they name, for every verb that takes it.</summary>
internal static class DtypeOption
{
    /// <summary>The spellings the option accepts.</summary>
    public static readonly string[] Names = ["float32", "bfloat16", "float16"];

    /// <summary>The dtype <paramref name="name"/> (one of <see cref="Names"/>) names.</summary>
    public static ScalarType Parse(string name) => name switch
    {
        "bfloat16" => ScalarType.BFloat16,
        "float16" => ScalarType.Float16,
        _ => ScalarType.Float32,
    };

    /// <summary>The spelling of <paramref name="dtype"/>.</summary>
    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };
}
