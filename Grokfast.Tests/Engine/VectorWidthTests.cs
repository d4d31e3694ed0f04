using System.Numerics;
using System.Runtime.Intrinsics;
using Grokfast.Tests.Distributed;
using Grokfast.Tests.Interop;
using Grokfast.Tests.Kernels;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Engine;

/// <summary>
/// The CPU passes at the vector widths this machine's JIT does not choose by itself — 128-bit (x64 without AVX, and
/// ARM64's NEON) and 512-bit (AVX-512 with <c>DOTNET_MaxVectorTBitWidth=512</c>) — where their loops take other steps
/// and other lane splits: the bit-for-bit classes run again in a child of the test executable told that width.
/// </summary>
[Collection(nameof(ChildProcesses))]
public sealed class VectorWidthTests
{
    /// <summary>The verb under which the test executable prints <c>Vector&lt;float&gt;.Count</c>.</summary>
    internal const string Verb = "vector-floats";

    // Every class that compares a vectorised CPU loop with a scalar reference or an ILGPU kernel bit for bit.
    private static readonly Type[] BitForBitClasses =
    [
        typeof(PassMatrixTests), typeof(GradientNormTests), typeof(FiniteScanTests), typeof(HalfPrecisionTests),
        typeof(HalfSumTests), typeof(Float64FilterTests),
    ];

    private static string TestExecutable => Path.Combine(AppContext.BaseDirectory, "Grokfast.Tests");

    [Theory]
    [InlineData("DOTNET_EnableAVX", "0", 4)]
    [InlineData("DOTNET_MaxVectorTBitWidth", "512", 16)]
    public void CpuPasses_AtAnotherVectorWidth_MatchBitForBit(string variable, string value, int floats)
    {
        Assert.SkipUnless(floats != 16 || Vector512.IsHardwareAccelerated, "512-bit vectors need AVX-512.");
        var environment = new Dictionary<string, string?> { [variable] = value };
        (int probed, string width, _) = ChildProcess.Run(TestExecutable, [Verb], TimeSpan.FromMinutes(1), environment);
        Assert.Equal(0, probed);
        Assert.Equal($"{floats}", width.Trim());

        (int exitCode, string output, string error) = ChildProcess.Run(TestExecutable,
            BitForBitClasses.SelectMany(c => new[] { "-class", c.FullName! }), TimeSpan.FromMinutes(3), environment);

        Assert.True(exitCode == 0, $"At {floats} floats a vector:\n{output}\n{error}");
        Assert.Matches(@"Total: [1-9]\d*, Errors: 0, Failed: 0", output);
    }

    internal static int PrintVectorFloats()
    {
        Console.WriteLine(Vector<float>.Count);
        return 0;
    }
}
