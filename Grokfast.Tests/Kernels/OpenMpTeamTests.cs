using System.Runtime.InteropServices;
using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
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

        AssertMatchesScalarLoop<EmaSettings, EmaConstants>(EmaSettings.From(0.875, 5.0), new ScalarEma(Length, 0.875f, 5f), covariance: 0);
        AssertMatchesScalarLoop<KalmanSettings, KalmanConstants>(KalmanSettings.From(1e-4, 1e-2, 5.0), new ScalarKalman(Length, 1e-4f, 1e-2f, 5f), covariance: 1e-2f);

        using var data = new NativeFloats(Length);
        Gradients.Random(Length, seed: 2).CopyTo(data.Span);
        Assert.True(FiniteScan.AllFinite(data.Address, Length));
        data.Span[Length - 1] = float.NaN;
        Assert.False(FiniteScan.AllFinite(data.Address, Length));
    }

    [Fact]
    public void CpuTwin_OnOpenMpTeam_AllocatesNothing()
    {
        using var g = new NativeFloats(Length);
        using var ema = new NativeFloats(Length);
        using IHostPass<EmaConstants> kernel = Ema(g, ema);
        var constants = new PassConstants<EmaConstants>(EmaConstants.For(0.98, 2.0, firstStep: false), default);
        kernel.Run(0, Length, constants);

        // Counted on every thread: the chunks run on the OpenMP team's threads, not on this one.
        long allocated = Allocations.During(() =>
        {
            for (int i = 0; i < 10; i++)
            {
                kernel.Run(0, Length, constants);
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

    /// <summary>
    /// The twin split over the cores, over a few steps of fresh gradients, against the scalar loop, bit for bit (the
    /// gradients and the state).
    /// </summary>
    private static void AssertMatchesScalarLoop<TSettings, TFilter>(TSettings settings, IScalarFilter reference, float covariance)
        where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        using var g = new NativeFloats(Length);
        using var state = new NativeFloats(Length);
        using IHostPass<TFilter> pass = Passes.CreateHost<TFilter>(null, GradientFormat.Float32, PassUpdate.WriteBack,
            PassBuffers.Filter(g.Address, state.Address, 0, Length, 1));
        for (int step = 0; step < 3; step++)
        {
            float[] gradient = Gradients.Random(Length, seed: step);
            gradient.CopyTo(g.Span);
            pass.Run(0, Length, new PassConstants<TFilter>(TSettings.At(settings, step, covariance), default));
            covariance = TSettings.NextCovariance(settings, covariance);
            reference.Step(gradient);
            BitAssert.Equal<float>(gradient, g.Span, $"{typeof(TFilter).Name}, step {step}: gradients");
            BitAssert.Equal<float>(reference.State, state.Span, $"{typeof(TFilter).Name}, step {step}: state");
        }
    }

    private static IHostPass<EmaConstants> Ema(NativeFloats g, NativeFloats average) =>
        Passes.CreateHost<EmaConstants>(null, GradientFormat.Float32, PassUpdate.WriteBack, PassBuffers.Filter(g.Address, average.Address, 0, Length, 1));

    private static void BindByBuildingAFilter()
    {
        using var model = TinyMlp.Create();
        using var filter = new EmaFilter(model);
    }
}
