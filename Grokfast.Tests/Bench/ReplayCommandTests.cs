using System.Runtime.InteropServices;
using System.Text;
using Grokfast.Filters;
using Grokfast.Reference.Npy;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Bench;

[Collection(nameof(ChildProcesses))]
public sealed class ReplayCommandTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("grokfast-replay-").FullName;

    private string Output => Path.Combine(folder, "filtered.npy");

    private static string GoldenGradients => Path.Combine(AppContext.BaseDirectory, "Golden", "grads.npy");

    [Theory]
    [InlineData("ema_paper", new[] { "--filter", "ema", "--alpha", "0.98", "--lamb", "2" })]
    [InlineData("ma_sum_warmup0_trigger1", new[] { "--filter", "ma", "--window-size", "50", "--lamb", "0.1", "--filter-type", "sum", "--warmup", "false", "--trigger", "true" })]
    [InlineData("kalman_defaults", new[] { "--filter", "kalman" })]
    public void Replay_OfTheGoldenGradients_WritesTheGoldenFilteredTrace(string golden, string[] options)
    {
        string plot = Path.Combine(folder, "response.png");

        var (exitCode, _, error) = BenchProcess.Run(["replay", .. options, "--input", GoldenGradients, "--output", Output, "--plot", plot, "--element", "5"]);

        Assert.True(exitCode == 0, error);
        (float[] filtered, long[] shape) = NpyFile.ReadFloat32(Output);
        (float[] expected, long[] expectedShape) = GoldenTraces.Expected(golden);
        Assert.Equal(expectedShape, shape);
        FloatAssert.Close(expected, filtered, 1e-5, 1e-6);
        Assert.True(new FileInfo(plot).Length > 1000, "the plot is missing or empty");
    }

    [Fact]
    public void Replay_OfAFloat16Trace_WritesFloat16RoundedFromTheFloat32Filter()
    {
        const int steps = 30, width = 37;
        float[] trace = new float[steps * width];
        for (int t = 0; t < steps; t++) Support.Gradients.Random(width, seed: t).Select(v => (float)(Half)v).ToArray().CopyTo(trace, t * width);
        string input = Path.Combine(folder, "half.npy");
        NpyFile.Write(input, trace, [steps, width], ScalarType.Float16);

        var (exitCode, output, error) = BenchProcess.Run(["replay", "--filter", "ema", "--alpha", "0.9", "--lamb", "2", "--input", input, "--output", Output]);

        Assert.True(exitCode == 0, error);
        Assert.Contains("float16", output, StringComparison.Ordinal);
        (float[] filtered, long[] shape, ScalarType dtype) = NpyFile.Read(Output);
        Assert.Equal(ScalarType.Float16, dtype);
        Assert.Equal([(long)steps, width], shape);
        // The float32 filter on the widened trace, each filtered gradient rounded to float16.
        using var reference = new DtypeModule([[width]], [ScalarType.Float32]);
        using var ema = new EmaFilter(reference, alpha: 0.9, lamb: 2);
        for (int t = 0; t < steps; t++)
        {
            using Tensor row = torch.tensor(trace.AsSpan(t * width, width).ToArray());
            reference.SetGradient(0, row);
            ema.step();
            float[] expected = MemoryMarshal.Cast<byte, float>(reference.GradientBytes(0)).ToArray().Select(v => (float)(Half)v).ToArray();
            Assert.Equal(expected, filtered.AsSpan(t * width, width).ToArray());
        }
    }

    [Fact]
    public void NpyFile_Float16WriteThenRead_RoundTripsValuesAndShape()
    {
        string path = Path.Combine(folder, "half-round.npy");
        float[] values = [1.5f, -0f, 65504f, 5.96046448e-8f, 3f, -7.25f];

        NpyFile.Write(path, values, [2, 3], ScalarType.Float16);
        (float[] read, long[] shape, ScalarType dtype) = NpyFile.Read(path);

        Assert.Equal(values, read);
        Assert.Equal([2L, 3L], shape);
        Assert.Equal(ScalarType.Float16, dtype);
        Assert.Equal(0, (new FileInfo(path).Length - values.Length * 2) % 64);
    }

    [Fact]
    public void Replay_MissingInput_FailsWithOneLineAndExitCode2()
    {
        AssertBadInput(["--filter", "ema", "--input", Path.Combine(folder, "absent.npy"), "--output", Output], "does not exist");
    }

    [Fact]
    public void Replay_Float64Input_FailsNamingTheDtype()
    {
        string input = Path.Combine(folder, "doubles.npy");
        WriteNpyHeaderOnly(input, "'<f8'", "(2, 3)", payloadBytes: 48);

        AssertBadInput(["--filter", "ema", "--input", input, "--output", Output], "float32");
    }

    [Fact]
    public void Replay_OneDimensionalInput_FailsAskingForTwoDimensions()
    {
        string input = Path.Combine(folder, "vector.npy");
        NpyFile.WriteFloat32(input, new float[5], [5]);

        AssertBadInput(["--filter", "ema", "--input", input, "--output", Output], "2-D");
    }

    [Fact]
    public void Replay_TruncatedInput_FailsSayingSo()
    {
        string input = Path.Combine(folder, "short.npy");
        WriteNpyHeaderOnly(input, "'<f4'", "(4, 4)", payloadBytes: 20);

        AssertBadInput(["--filter", "ema", "--input", input, "--output", Output], "truncated");
    }

    [Theory]
    [InlineData("shape_product_past_memory.npy", "truncated")]
    [InlineData("shape_product_overflows_long.npy", "more values than any file")]
    [InlineData("negative_dimension.npy", "`-5, 3)")]
    [InlineData("code_in_the_header.npy", "`__import__('os') }")]
    public void Replay_HandMadeHostileNpy_FailsWithOneLineNamingTheFileAndWhatIsWrong(string name, string named)
    {
        string input = Path.Combine(AppContext.BaseDirectory, "Corpus", "npy", name);

        AssertBadInput(["--filter", "ema", "--input", input, "--output", Output], named);
        AssertBadInput(["--filter", "ema", "--input", input, "--output", Output], name);
    }

    [Fact]
    public void Replay_NonFiniteRows_AreSkippedAndReportedUnlessSkippingIsOff()
    {
        string input = Path.Combine(folder, "nonfinite.npy");
        NpyFile.WriteFloat32(input, [float.NaN, 1f, float.PositiveInfinity, 2f], [2, 2]);

        var skipping = BenchProcess.Run(["replay", "--filter", "ema", "--lamb", "2", "--input", input, "--output", Output]);
        float[] skipped = NpyFile.ReadFloat32(Output).Data;
        var filtering = BenchProcess.Run(["replay", "--filter", "ema", "--lamb", "2", "--skip-non-finite", "false", "--input", input, "--output", Output]);
        float[] filtered = NpyFile.ReadFloat32(Output).Data;

        Assert.True(skipping.ExitCode == 0, skipping.Error);
        Assert.Contains("2 of 2 steps skipped: non-finite gradients at steps 0, 1", skipping.Output, StringComparison.Ordinal);
        Assert.Equal([float.NaN, 1f, float.PositiveInfinity, 2f], skipped);
        Assert.True(filtering.ExitCode == 0, filtering.Error);
        Assert.DoesNotContain("skipped", filtering.Output, StringComparison.Ordinal);
        Assert.Equal(1f + 2f * 1f, filtered[1]); // the EMA starts at the first gradient: g + lamb * g
    }

    [Theory]
    [InlineData(new[] { "--filter", "ema", "--alpha", "1.5" }, "alpha")]
    [InlineData(new[] { "--filter", "ma", "--window-size", "0" }, "window_size")]
    [InlineData(new[] { "--filter", "ma", "--filter-type", "median" }, "median")]
    [InlineData(new[] { "--filter", "kalman", "--measurement-noise", "0" }, "measurement_noise")]
    [InlineData(new[] { "--filter", "kalman", "--process-noise", "-1" }, "process_noise")]
    [InlineData(new[] { "--filter", "butterworth" }, "butterworth")]
    [InlineData(new[] { "--filter", "ema", "--lamb", "abc" }, "abc")]
    [InlineData(new[] { "--filter", "ma", "--warmup", "maybe" }, "maybe")]
    public void Replay_BadOptionValue_FailsNamingItWithoutWritingOutput(string[] options, string named)
    {
        AssertBadInput([.. options, "--input", GoldenGradients, "--output", Output], named);
    }

    [Fact]
    public void NpyFile_WriteThenRead_RoundTripsValuesAndShape()
    {
        string path = Path.Combine(folder, "round.npy");
        float[] values = [1.5f, -0f, float.MaxValue, float.Epsilon, 3f, -7.25f];

        NpyFile.WriteFloat32(path, values, [3, 2]);
        (float[] read, long[] shape) = NpyFile.ReadFloat32(path);

        Assert.Equal(values, read);
        Assert.Equal([3L, 2L], shape);
        Assert.Equal(0, (new FileInfo(path).Length - values.Length * sizeof(float)) % 64);
    }

    private void AssertBadInput(string[] args, string named)
    {
        var (exitCode, _, error) = BenchProcess.Run(["replay", .. args]);

        Assert.Equal(2, exitCode);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains(named, error, StringComparison.Ordinal);
        Assert.False(File.Exists(Output), "a failed replay must not leave an output file");
    }

    private static void WriteNpyHeaderOnly(string path, string descr, string shape, int payloadBytes)
    {
        string header = $"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}".PadRight(117) + "\n";
        using var stream = File.Create(path);
        stream.Write([0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, 0]);
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(new byte[payloadBytes]);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
