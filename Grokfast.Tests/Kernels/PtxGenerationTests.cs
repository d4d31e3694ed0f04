using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.HalfPrecision;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using ILGPU.Runtime.Cuda;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// Every ILGPU kernel compiles to PTX for the GPUs we target, with no GPU or driver on the machine, and declares
/// the parameters the driver-API launcher passes.
/// </summary>
public sealed partial class PtxGenerationTests
{
    public static TheoryData<string> Kernels() => new(KernelMethods.Keys);

    private static readonly Dictionary<string, MethodInfo> KernelMethods = new()
    {
        ["ema"] = Method(typeof(EmaKernels), "Kernel"),
        ["ema-prepare"] = Method(typeof(EmaKernels), "Prepare"),
        ["ma"] = Method(typeof(WindowedMeanKernels), "Kernel"),
        ["ma-prepare"] = Method(typeof(WindowedMeanKernels), "Prepare"),
        ["kalman"] = Method(typeof(KalmanKernels), "Kernel"),
        ["kalman-prepare"] = Method(typeof(KalmanKernels), "Prepare"),
        ["finite-scan"] = Method(typeof(FiniteScan), "Kernel"),
        ["record"] = Method(typeof(FiniteScan), "Record"),
        ["ema-bf16"] = Method(typeof(EmaHalfKernels<BFloat16Format>), "Kernel"),
        ["ema-f16"] = Method(typeof(EmaHalfKernels<Float16Format>), "Kernel"),
        ["kalman-bf16"] = Method(typeof(KalmanHalfKernels<BFloat16Format>), "Kernel"),
        ["ma-f16"] = Method(typeof(WindowedMeanHalfKernels<Float16Format>), "Kernel"),
        ["finite-scan-bf16"] = Method(typeof(HalfFiniteScan<BFloat16Format>), "Kernel"),
        ["ema-adam-bf16-master"] = Method(typeof(EmaAdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>), "Kernel"),
        ["ema-adam-f16-direct"] = Method(typeof(EmaAdamHalfKernels<Float16Format, DirectWeights<Float16Format>>), "Kernel"),
        ["adam-bf16-master"] = Method(typeof(AdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>), "Kernel"),
        ["adam-f16-direct"] = Method(typeof(AdamHalfKernels<Float16Format, DirectWeights<Float16Format>>), "Kernel"),
        ["kalman-adam-bf16-master"] = Method(typeof(KalmanAdamHalfKernels<BFloat16Format, MasterWeights<BFloat16Format>>), "Kernel"),
        ["kalman-adam-f16-direct"] = Method(typeof(KalmanAdamHalfKernels<Float16Format, DirectWeights<Float16Format>>), "Kernel"),
        ["ma-adam-f16-master"] = Method(typeof(WindowedMeanAdamHalfKernels<Float16Format, MasterWeights<Float16Format>>), "Kernel"),
        ["ma-adam-bf16-direct"] = Method(typeof(WindowedMeanAdamHalfKernels<BFloat16Format, DirectWeights<BFloat16Format>>), "Kernel"),
        ["adam"] = Method(typeof(AdamKernels), "Kernel"),
        ["adam-prepare"] = Method(typeof(AdamKernels), "Prepare"),
        ["ema-adam"] = Method(typeof(EmaAdamKernels), "Kernel"),
        ["ema-adam-prepare"] = Method(typeof(EmaAdamKernels), "Prepare"),
        ["ma-adam"] = Method(typeof(WindowedMeanAdamKernels), "Kernel"),
        ["ma-adam-prepare"] = Method(typeof(WindowedMeanAdamKernels), "Prepare"),
        ["kalman-adam"] = Method(typeof(KalmanAdamKernels), "Kernel"),
        ["kalman-adam-prepare"] = Method(typeof(KalmanAdamKernels), "Prepare"),
    };

    /// <summary>Bytes of each parameter after the thread count, as the CUDA launchers pass them.</summary>
    private static readonly Dictionary<string, int[]> LaunchedParameterSizes = new()
    {
        ["ema"] = GradientStateCudaKernel<EmaConstants, EmaSettings>.ParameterSizes,
        ["ema-prepare"] = CudaStepConstants<EmaConstants, EmaSettings>.ParameterSizes,
        ["ma"] = WindowedMeanCudaKernel.ParameterSizes,
        ["ma-prepare"] = CudaStepConstants<WindowedMeanConstants, WindowedMeanSettings>.ParameterSizes,
        ["kalman"] = GradientStateCudaKernel<KalmanConstants, KalmanSettings>.ParameterSizes,
        ["kalman-prepare"] = CudaStepConstants<KalmanConstants, KalmanSettings>.ParameterSizes,
        ["finite-scan"] = CudaStepState.ScanParameterSizes,
        ["record"] = CudaStepState.RecordParameterSizes,
        // Launched as the float32 EMA kernel is: four views (gradients, average, step, skip flag).
        ["ema-bf16"] = GradientStateCudaKernel<EmaConstants, EmaSettings>.ParameterSizes,
        ["ema-f16"] = GradientStateCudaKernel<EmaConstants, EmaSettings>.ParameterSizes,
        ["kalman-bf16"] = GradientStateCudaKernel<KalmanConstants, KalmanSettings>.ParameterSizes,
        ["ma-f16"] = WindowedMeanCudaKernel.ParameterSizes,
        ["finite-scan-bf16"] = CudaStepState.ScanParameterSizes,
        // g, [state,] master, p, m, v, the step's slot and the skip flag: a 16-bit pass takes the master view with or without
        // master weights (an empty one without).
        ["ema-adam-bf16-master"] = FusedAdamCudaKernel<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>>.ParameterSizes(filtered: true, half: true),
        ["ema-adam-f16-direct"] = FusedAdamCudaKernel<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>>.ParameterSizes(filtered: true, half: true),
        ["adam-bf16-master"] = FusedAdamCudaKernel<AdamConstants, AdamSettings>.ParameterSizes(filtered: false, half: true),
        ["adam-f16-direct"] = FusedAdamCudaKernel<AdamConstants, AdamSettings>.ParameterSizes(filtered: false, half: true),
        ["kalman-adam-bf16-master"] = FusedAdamCudaKernel<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>>.ParameterSizes(filtered: true, half: true),
        ["kalman-adam-f16-direct"] = FusedAdamCudaKernel<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>>.ParameterSizes(filtered: true, half: true),
        ["ma-adam-f16-master"] = WindowedMeanAdamCudaKernel.ParameterSizes(half: true),
        ["ma-adam-bf16-direct"] = WindowedMeanAdamCudaKernel.ParameterSizes(half: true),
        ["adam"] = FusedAdamCudaKernel<AdamConstants, AdamSettings>.ParameterSizes(filtered: false),
        ["adam-prepare"] = CudaStepConstants<AdamConstants, AdamSettings>.ParameterSizes,
        ["ema-adam"] = FusedAdamCudaKernel<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>>.ParameterSizes(filtered: true, vectorized: true),
        ["ema-adam-prepare"] = CudaStepConstants<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>>.ParameterSizes,
        ["ma-adam"] = WindowedMeanAdamCudaKernel.ParameterSizes(),
        ["ma-adam-prepare"] = CudaStepConstants<FusedAdamConstants<WindowedMeanConstants>, FusedAdamSettings<WindowedMeanSettings>>.ParameterSizes,
        ["kalman-adam"] = FusedAdamCudaKernel<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>>.ParameterSizes(filtered: true),
        ["kalman-adam-prepare"] = CudaStepConstants<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>>.ParameterSizes,
    };

    [Theory]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    [InlineData("finite-scan")]
    public void Pass_CompilesToPtxForHopper_WithA64BitGridStrideLoop(string name)
    {
        string ptx = Compile(name).Assembly;

        // ILGPU 1.5.3 emits sm_80 code for an sm_90 request; the driver JIT-compiles it for the chip.
        Assert.Matches(@"\.target sm_(80|90)\b", ptx);
        // The loop compares a 64-bit index with the 64-bit length: buffers over 2^31 elements need no second launch.
        Assert.Matches(@"\bsetp\.(lt|ge)\.s64\b", ptx);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_DeclaresTheParametersItsCudaLauncherPasses(string name)
    {
        PtxKernel kernel = Compile(name);

        Assert.Contains($".entry {kernel.EntryName}(", kernel.Assembly, StringComparison.Ordinal);
        int[] declared = ParameterDeclaration().Matches(kernel.Assembly)
            .Select(m => m.Groups["bytes"].Success ? int.Parse(m.Groups["bytes"].Value, CultureInfo.InvariantCulture) : int.Parse(m.Groups["bits"].Value, CultureInfo.InvariantCulture) / 8)
            .ToArray();
        // First the launch's thread count (a 32-bit integer), then the kernel's own parameters.
        Assert.Equal([sizeof(int), .. LaunchedParameterSizes[name]], declared);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Kernel_Ptx_HasNoFloatOperationPtxasMayFuse(string name)
    {
        string ptx = Compile(name).Assembly;

        // A mul and an add without a rounding modifier may become one fma, rounding once where the CPU twins round twice.
        Assert.DoesNotMatch(@"\b(add|sub|mul)\.f(32|64)\b", ptx);
        Assert.DoesNotMatch(@"\b(fma|mad)(\.\w+)*\.f(32|64)\b", ptx);
    }

    [Theory]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void FilterKernel_Ptx_RoundsEveryProductAndSumToNearest(string name)
    {
        string ptx = Compile(name).Assembly;

        Assert.Matches(@"\bmul\.rn\.f32\b", ptx);
        Assert.Matches(@"\badd\.rn\.f32\b", ptx);
    }

    [Fact]
    public void EmaAdamPass_Ptx_LoadsAndStoresEachStreamSixteenBytesAtATime()
    {
        string ptx = Compile("ema-adam").Assembly;

        // g, the average, p, m and v read as four floats at once; the average, p, m and v written so.
        Assert.Equal(5, Regex.Count(ptx, @"\bld(\.global)?\.v4\.f32\b"));
        Assert.Equal(4, Regex.Count(ptx, @"\bst(\.global)?\.v4\.f32\b"));
    }

    [Fact]
    public void RoundEachOperation_GivesFloatAddSubAndMulRoundToNearest_AndLeavesTheRest()
    {
        const string ptx = "add.f32 %f3, %f1, %f2;\nsub.f64 %fd2, %fd1, %fd0;\nmul.f32 %f4, %f3, %f0;\nadd.s64 %rd2, %rd1, 4;\nmul.lo.u64 %rd3, %rd2, 4;\nmul.rn.f32 %f5, %f4, %f4;";

        Assert.Equal("add.rn.f32 %f3, %f1, %f2;\nsub.rn.f64 %fd2, %fd1, %fd0;\nmul.rn.f32 %f4, %f3, %f0;\nadd.s64 %rd2, %rd1, 4;\nmul.lo.u64 %rd3, %rd2, 4;\nmul.rn.f32 %f5, %f4, %f4;",
            PtxRounding.RoundEachOperation(ptx));
    }

    [Theory]
    [InlineData("adam-prepare")]
    [InlineData("ema-adam-prepare")]
    [InlineData("ma-adam-prepare")]
    [InlineData("kalman-adam-prepare")]
    public void AdamPrepare_Ptx_DerivesTheBiasCorrectionsInDoubleWithIeeeSquareRootAndDivision(string name)
    {
        string ptx = Compile(name).Assembly;

        // β^t by squaring and the corrections in double, as the host computes them; the square root and the
        // division correctly rounded, so the device's constants equal the host's bit for bit.
        Assert.Matches(@"\bmul\.rn\.f64\b", ptx);
        Assert.Matches(@"\bsqrt\.rn\.f64\b", ptx);
        Assert.Matches(@"\bdiv\.rn\.f64\b", ptx);
    }

    [Fact]
    public void WindowedMeanKernel_KeepsItsRunningSumInDoublePrecision()
    {
        string ptx = Compile("ma").Assembly;

        // The sum is loaded, updated and stored as a double: a float32 sum would show as ld/st.f32 only.
        Assert.Matches(@"\bld(\.global)?\.f64\b", ptx);
        Assert.Matches(@"\bst(\.global)?\.f64\b", ptx);
        Assert.Matches(@"\bsub\.rn\.f64\b", ptx);
        Assert.Matches(@"\badd\.rn\.f64\b", ptx);
    }

    private static PtxKernel Compile(string name) =>
        PtxCompiler.Compile(KernelMethods[name], CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);

    private static MethodInfo Method(Type kernels, string name) => kernels.GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;

    [GeneratedRegex(@"\.param\s+(?:\.align\s+\d+\s+)?\.b(?<bits>\d+)\s+\w+(?:\[(?<bytes>\d+)\])?")]
    private static partial Regex ParameterDeclaration();
}
