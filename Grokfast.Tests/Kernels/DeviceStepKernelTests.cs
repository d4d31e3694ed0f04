using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using ILGPU;
using ILGPU.Runtime;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The CUDA path's device-side step, run as ILGPU code on ILGPU's CPU accelerator: the prepare kernels derive each
/// step's constants from the step counts exactly as the host does, and neither they nor the passes nor the counts
/// move on a step whose skip flag is set; the record kernel counts the skipped steps.
/// </summary>
public sealed class DeviceStepKernelTests : IDisposable
{
    private const int Parameters = 3;
    private const int Steps = 40;
    private const long UpdatesAhead = 3;
    private const float ClipScale = 0.375f;
    private static readonly int[] SkippedSteps = [2, 3, 17];

    private readonly IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();

    private static readonly AdamSettings Adam = new(Lr: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.01, Decoupled: true);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void EmaPrepare_OverStepsWithSkips_GivesTheHostsConstantsForTheStepsTaken(bool adam)
    {
        EmaSettings settings = EmaSettings.From(0.98, 2.0);
        AssertPrepareFollowsTheHost<EmaSettings, EmaConstants>(settings, adam, 0, (taken, _) => (settings.At(taken), 0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WindowedMeanPrepare_OverStepsWithSkips_GivesTheHostsConstantsForTheStepsTaken(bool adam)
    {
        WindowedMeanSettings settings = WindowedMeanSettings.From(7, mean: true, lamb: 5.0, warmup: true, trigger: false);
        AssertPrepareFollowsTheHost<WindowedMeanSettings, WindowedMeanConstants>(settings, adam, 0, (taken, _) => (settings.At(taken), 0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void KalmanPrepare_OverStepsWithSkips_AdvancesTheCovarianceAsTheHostDoes(bool adam)
    {
        KalmanSettings settings = KalmanSettings.From(1e-4, 1e-2, 2.0);
        AssertPrepareFollowsTheHost<KalmanSettings, KalmanConstants>(settings, adam, settings.MeasurementNoise, (_, covariance) =>
        {
            KalmanStep next = settings.Next(covariance);
            return (next.Constants, next.NextCovariance);
        });
    }

    [Fact]
    public void AdamPrepare_OverStepsWithSkips_GivesTheHostsConstantsForTheStepsTaken() =>
        AssertPrepareFollowsTheHost<NoFilter, NoFilter>(default, adam: true, 0, (_, _) => (default, 0));

    [Fact]
    public void Record_CountsTheSkippedStepsAndSaysWhetherTheLastWas()
    {
        var record = accelerator.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<long>>(FiniteScan.Record);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = accelerator.Accelerator.Allocate1D<int>(1);
        using MemoryBuffer1D<long, Stride1D.Dense> outcome = accelerator.Accelerator.Allocate1D<long>(2);
        outcome.MemSetToZero();

        foreach (int flag in new[] { 0, 1, 1, 0, 1 })
        {
            skip.CopyFromCPU([flag]);
            record(1, skip.View, outcome.View);
        }

        Assert.Equal([3L, 1L], outcome.GetAsArray1D());
        skip.CopyFromCPU([0]);
        record(1, skip.View, outcome.View);
        Assert.Equal([3L, 0L], outcome.GetAsArray1D());
    }

    [Fact]
    public void EmaPass_WithTheSkipFlagSet_TouchesNothing()
    {
        var pass = accelerator.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<PassConstants<EmaConstants>>, ArrayView<int>, long, int>(
            PassKernel<float, Float32Format, EmaConstants, WriteBack>.Kernel);
        float[] gradients = [1f, -2f, 3f, 0.5f, 7f];
        float[] average = [0.1f, 0.2f, 0.3f, 0.4f, 0.5f];
        using MemoryBuffer1D<float, Stride1D.Dense> g = accelerator.Accelerator.Allocate1D(gradients);
        using MemoryBuffer1D<float, Stride1D.Dense> state = accelerator.Accelerator.Allocate1D(average);
        using MemoryBuffer1D<PassConstants<EmaConstants>, Stride1D.Dense> step =
            accelerator.Accelerator.Allocate1D([new PassConstants<EmaConstants>(EmaConstants.For(0.98, 2.0, firstStep: false), default)]);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = accelerator.Accelerator.Allocate1D([1]);

        Pass();

        Assert.Equal(gradients, g.GetAsArray1D());
        Assert.Equal(average, state.GetAsArray1D());

        void Pass() => pass(gradients.Length, g.View, state.View, ArrayView<double>.Empty, ArrayView<float>.Empty, ArrayView<float>.Empty,
            ArrayView<float>.Empty, ArrayView<float>.Empty, step.View, skip.View, gradients.Length, 0);
        skip.CopyFromCPU([0]);
        Pass();
        Assert.NotEqual(gradients, g.GetAsArray1D());
    }

    public void Dispose() => accelerator.Dispose();

    /// <summary>
    /// Runs the prepare kernel of <typeparamref name="TFilter"/> step after step, some steps flagged to skip, and checks
    /// after each that the slot holds what <paramref name="host"/> computes from the steps taken so far (and the
    /// covariance) with Adam's constants for the step (of default settings without <paramref name="adam"/>), that every
    /// parameter's count is the steps taken, and that a skipped step left slot, counts and covariances as they were. With
    /// <paramref name="adam"/> the parameters start <see cref="UpdatesAhead"/> updates ahead of the filter (a filter
    /// switched on late), Adam's constants and counts follow the updates, not the filter's steps, and the constants carry
    /// the step's gradient scale (fused clipping's; 1 without a scale view).
    /// </summary>
    private void AssertPrepareFollowsTheHost<TSettings, TFilter>(TSettings settings, bool adam, float covariance,
        Func<long, float, (TFilter Constants, float NextCovariance)> host)
        where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
        where TFilter : unmanaged, IFilterStep<TFilter>, IEquatable<TFilter>
    {
        var launch = accelerator.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>,
            ArrayView<long>, ArrayView<float>, ArrayView<PassConstants<TFilter>>, PassSettings<TSettings>>(PrepareKernel<TSettings, TFilter>.Kernel);
        AdamSettings adamSettings = adam ? Adam : default;
        using MemoryBuffer1D<int, Stride1D.Dense> skip = accelerator.Accelerator.Allocate1D<int>(1);
        using MemoryBuffer1D<long, Stride1D.Dense> steps = accelerator.Accelerator.Allocate1D<long>(Parameters);
        using MemoryBuffer1D<float, Stride1D.Dense> covariances = accelerator.Accelerator.Allocate1D(Enumerable.Repeat(covariance, Parameters).ToArray());
        using MemoryBuffer1D<PassConstants<TFilter>, Stride1D.Dense> slot = accelerator.Accelerator.Allocate1D<PassConstants<TFilter>>(1);
        long ahead = adam ? UpdatesAhead : 0;
        using MemoryBuffer1D<long, Stride1D.Dense> updates = accelerator.Accelerator.Allocate1D(Enumerable.Repeat(ahead, Parameters).ToArray());
        using MemoryBuffer1D<float, Stride1D.Dense> scale = accelerator.Accelerator.Allocate1D([ClipScale]);
        steps.MemSetToZero();
        slot.MemSetToZero();
        long taken = 0;
        PassConstants<TFilter> expected = default;

        for (int step = 0; step < Steps; step++)
        {
            bool skipped = SkippedSteps.Contains(step);
            skip.CopyFromCPU([skipped ? 1 : 0]);
            if (!skipped)
            {
                (TFilter filter, covariance) = host(taken, covariance);
                expected = new PassConstants<TFilter>(filter, adamSettings.At(ahead + taken + 1, adam ? ClipScale : 1));
                taken++;
            }

            // The CUDA path launches a block of threads for it; all but thread 0 must leave it alone.
            launch(256, skip.View, steps.View, covariances.View, adam ? updates.View : ArrayView<long>.Empty,
                adam ? scale.View : ArrayView<float>.Empty, slot.View, new PassSettings<TSettings>(settings, adamSettings));

            Assert.Equal(expected, slot.GetAsArray1D()[0]);
            Assert.All(steps.GetAsArray1D(), count => Assert.Equal(taken, count));
            Assert.All(updates.GetAsArray1D(), count => Assert.Equal(ahead + (adam ? taken : 0), count));
            if (covariance != 0) Assert.All(covariances.GetAsArray1D(), p => Assert.Equal(covariance, p));
        }
    }
}
