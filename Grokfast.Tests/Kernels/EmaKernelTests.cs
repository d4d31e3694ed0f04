using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

public sealed class EmaKernelTests
{
    private const int Steps = 60;
    private const float Alpha = 0.98f;
    // Not a power of two, so lamb·ema rounds: a fused multiply-add anywhere would show.
    private const float Lamb = 5.0f;

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(1023)]
    [InlineData((1 << 20) + 7)]
    public void CpuTwin_OverManySteps_MatchesScalarLoopBitForBit(int length)
    {
        using IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateCpu();
        AssertMatchesScalarLoop(kernel, length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(1023)]
    [InlineData(40_009)]
    public void IlgpuKernelOnCpuAccelerator_OverManySteps_MatchesScalarLoopBitForBit(int length)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        using IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateIlgpu(accelerator);
        AssertMatchesScalarLoop(kernel, length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    [InlineData(1031)]
    public void TwinIlgpuKernelAndScalarLoop_OnGradientsThatCancelTheirAmplification_AgreeBitForBit(int length)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        using IGradientStateKernel<EmaConstants> twin = EmaKernels.CreateCpu();
        using IGradientStateKernel<EmaConstants> ilgpu = EmaKernels.CreateIlgpu(accelerator);
        KernelHarness.AssertBitIdenticalOverSteps([twin, ilgpu], length, Steps, Constants, new ScalarEma(length, Alpha, Lamb), CancellingGradients);
    }

    [Fact]
    public void CpuTwin_FilteringASubRange_LeavesTheRestUntouched()
    {
        using IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateCpu();
        AssertSubRangeOnly(kernel);
    }

    [Fact]
    public void IlgpuKernel_FilteringASubRange_LeavesTheRestUntouched()
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        using IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateIlgpu(accelerator);
        AssertSubRangeOnly(kernel);
    }

    [Fact]
    public void FirstStep_ReturnsGradientTimesOnePlusLamb()
    {
        using IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateCpu();
        using var g = new NativeFloats(3);
        using var e = new NativeFloats(3);
        float[] values = [1f, -2f, 0.5f];
        values.CopyTo(g.Span);
        kernel.Bind(g.Address, e.Address, 3);

        kernel.Filter(0, 3, EmaConstants.For(0.5, 5.0, firstStep: true));

        FloatAssert.Close(values.Select(v => v * 6f).ToArray(), g.Span, 1e-7, 0);
    }

    internal static void AssertMatchesScalarLoop(IGradientStateKernel<EmaConstants> kernel, int length) =>
        KernelHarness.AssertBitIdenticalOverSteps([kernel], length, Steps, Constants, new ScalarEma(length, Alpha, Lamb), KernelHarness.RandomGradients);

    internal static EmaConstants Constants(int step) => EmaConstants.For(Alpha, Lamb, firstStep: step == 0);

    /// <summary>
    /// After a random first step, gradients that nearly cancel what the step adds to them:
    /// g + lamb·(alpha·e + (1−alpha)·g) ≈ 0, so the result is a small difference of large rounded terms, where a
    /// fused multiply-add anywhere would change the last bits.
    /// </summary>
    internal static float[] CancellingGradients(int step, EmaConstants c, float[] average)
    {
        float[] g = Gradients.Random(average.Length, seed: step);
        if (step == 0) return g;
        for (int i = 0; i < g.Length; i++)
            g[i] = (float)(-c.Lamb * c.Alpha * average[i] / (1 + c.Lamb * c.OneMinusAlpha) * (1 + 1e-4 * g[i]));
        return g;
    }

    private static void AssertSubRangeOnly(IGradientStateKernel<EmaConstants> kernel)
    {
        const int length = 100;
        using var g = new NativeFloats(length);
        using var e = new NativeFloats(length);
        float[] before = Gradients.Random(length, seed: 7);
        before.CopyTo(g.Span);
        kernel.Bind(g.Address, e.Address, length);

        kernel.Filter(10, 50, EmaConstants.For(Alpha, Lamb, firstStep: true));

        FloatAssert.Close(before.AsSpan(0, 10), g.Span[..10], 0, 0, "before the range: ");
        FloatAssert.Close(before.AsSpan(60), g.Span[60..], 0, 0, "after the range: ");
        FloatAssert.Close(before.AsSpan(10, 50).ToArray().Select(v => v * (1 + Lamb)).ToArray(), g.Span[10..60], 1e-6, 1e-7, "inside: ");
    }
}
