using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

public sealed class EmaKernelTests
{
    private const int Steps = 60;
    private const float Alpha = 0.98f;
    private const float Lamb = 2.0f;

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(1023)]
    [InlineData((1 << 20) + 7)]
    public void CpuTwin_OverManySteps_MatchesScalarLoop(int length)
    {
        using IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateCpu();
        AssertMatchesScalarLoop(kernel, length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(1023)]
    [InlineData(40_009)]
    public void IlgpuKernelOnCpuAccelerator_OverManySteps_MatchesScalarLoop(int length)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        using IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateIlgpu(accelerator);
        AssertMatchesScalarLoop(kernel, length);
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

    internal static void AssertMatchesScalarLoop(IGradientStateKernel<EmaConstants> kernel, int length)
    {
        var oracle = new ScalarEma(length, Alpha, Lamb);
        KernelHarness.AssertMatchesOverSteps(kernel, length, Steps,
            step => EmaConstants.For(Alpha, Lamb, firstStep: step == 0), oracle.Step, rtol: 1e-6);
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
