using System.Runtime.InteropServices;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Kalman;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

/// <summary>The CPU twins on libtorch's OpenMP team and, unbound, on .NET's thread pool.</summary>
[Collection(nameof(ProcessWideCounters))]
public sealed class OpenMpTeamTests : IDisposable
{
    // Over two chunks of CpuParallel's minimum, so a two-core machine splits it.
    private const int Length = (1 << 20) + 7;

    public OpenMpTeamTests() => BindByBuildingAFilter();

    // Every other test runs with the binding a filter leaves behind.
    public void Dispose() => BindByBuildingAFilter();

    [Fact]
    public void BuildingACpuFilter_BindsTheTwinsToLibTorchsOpenMpTeam()
    {
        OpenMpTeam.Unbind();
        Assert.False(OpenMpTeam.IsBound);

        BindByBuildingAFilter();

        Assert.True(OpenMpTeam.IsBound);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CpuTwins_OnEitherTeam_MatchTheirScalarLoopsAndTheScanFindsNaN(bool onOpenMp)
    {
        if (!onOpenMp) OpenMpTeam.Unbind();
        Assert.Equal(onOpenMp, OpenMpTeam.IsBound);

        using IGradientStateKernel<EmaConstants> ema = EmaKernels.CreateCpu();
        EmaKernelTests.AssertMatchesScalarLoop(ema, Length);
        using IGradientStateKernel<KalmanConstants> kalman = KalmanKernels.CreateCpu();
        KalmanKernelTests.AssertMatchesScalarLoop(kalman, Length, processNoise: 1e-4f);

        using var data = new NativeFloats(Length);
        Gradients.Random(Length, seed: 2).CopyTo(data.Span);
        Assert.True(FiniteScan.AllFinite(data.Address, Length));
        data.Span[Length - 1] = float.NaN;
        Assert.False(FiniteScan.AllFinite(data.Address, Length));
    }

    [Fact]
    public void CpuTwin_OnOpenMpTeam_AllocatesNothing()
    {
        using IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateCpu();
        using var g = new NativeFloats(Length);
        using var ema = new NativeFloats(Length);
        kernel.Bind(g.Address, ema.Address, Length);
        EmaConstants constants = EmaConstants.For(0.98, 2.0, firstStep: false);
        kernel.Filter(0, Length, constants);

        // Counted on every thread: the chunks run on the OpenMP team's threads, not on this one.
        long allocated = Allocations.During(() =>
        {
            for (int i = 0; i < 10; i++)
            {
                kernel.Filter(0, Length, constants);
                FiniteScan.AllFinite(g.Address, Length);
            }
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void TryBind_LibraryWithoutOpenMp_ReturnsFalseAndLeavesTheTwinsOnTheThreadPool()
    {
        OpenMpTeam.Unbind();
        nint libc = NativeLibrary.Load("libc.so.6");

        Assert.False(OpenMpTeam.TryBind(libc));
        Assert.False(OpenMpTeam.IsBound);
    }

    [Fact]
    public void TryBind_NullHandle_Throws()
    {
        Assert.Throws<ArgumentException>("library", () => OpenMpTeam.TryBind(0));
    }

    private static void BindByBuildingAFilter()
    {
        using var model = TinyMlp.Create();
        using var filter = new EmaFilter(model);
    }
}
