using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Ema;
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
    private static readonly int[] SkippedSteps = [2, 3, 17];

    private readonly IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();

    [Fact]
    public void EmaPrepare_OverStepsWithSkips_GivesTheHostsConstantsForTheStepsTaken()
    {
        EmaSettings settings = EmaSettings.From(0.98, 2.0);
        AssertPrepareFollowsTheHost<EmaConstants, EmaSettings>(EmaKernels.Prepare, settings, 0, (taken, _) => (settings.At(taken), 0));
    }

    [Fact]
    public void WindowedMeanPrepare_OverStepsWithSkips_GivesTheHostsConstantsForTheStepsTaken()
    {
        WindowedMeanSettings settings = WindowedMeanSettings.From(7, mean: true, lamb: 5.0, warmup: true, trigger: false);
        AssertPrepareFollowsTheHost<WindowedMeanConstants, WindowedMeanSettings>(WindowedMeanKernels.Prepare, settings, 0, (taken, _) => (settings.At(taken), 0));
    }

    [Fact]
    public void KalmanPrepare_OverStepsWithSkips_AdvancesTheCovarianceAsTheHostDoes()
    {
        KalmanSettings settings = KalmanSettings.From(1e-4, 1e-2, 2.0);
        AssertPrepareFollowsTheHost<KalmanConstants, KalmanSettings>(KalmanKernels.Prepare, settings, settings.MeasurementNoise, (_, covariance) =>
        {
            KalmanStep next = settings.Next(covariance);
            return (next.Constants, next.NextCovariance);
        });
    }

    private static readonly AdamSettings Adam = new(Lr: 1e-3, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.01, Decoupled: true);

    [Fact]
    public void AdamPrepare_OverStepsWithSkips_GivesTheHostsConstantsForTheStepsTaken() =>
        AssertPrepareFollowsTheHost<AdamConstants, AdamSettings>(AdamKernels.Prepare, Adam, 0, (taken, _) => (Adam.At(taken + 1), 0));

    [Fact]
    public void EmaAdamPrepare_OverStepsWithSkips_GivesTheHostsConstantsForTheStepsTaken()
    {
        EmaSettings ema = EmaSettings.From(0.98, 2.0);
        AssertPrepareFollowsTheHost<FusedAdamConstants<EmaConstants>, FusedAdamSettings<EmaSettings>>(EmaAdamKernels.Prepare, new(ema, Adam), 0,
            (taken, _) => (new(ema.At(taken), Adam.At(taken + 1)), 0));
    }

    [Fact]
    public void WindowedMeanAdamPrepare_OverStepsWithSkips_GivesTheHostsConstantsForTheStepsTaken()
    {
        WindowedMeanSettings ma = WindowedMeanSettings.From(7, mean: true, lamb: 5.0, warmup: true, trigger: false);
        AssertPrepareFollowsTheHost<FusedAdamConstants<WindowedMeanConstants>, FusedAdamSettings<WindowedMeanSettings>>(WindowedMeanAdamKernels.Prepare, new(ma, Adam), 0,
            (taken, _) => (new(ma.At(taken), Adam.At(taken + 1)), 0));
    }

    [Fact]
    public void KalmanAdamPrepare_OverStepsWithSkips_AdvancesTheCovarianceAsTheHostDoes()
    {
        KalmanSettings kalman = KalmanSettings.From(1e-4, 1e-2, 2.0);
        AssertPrepareFollowsTheHost<FusedAdamConstants<KalmanConstants>, FusedAdamSettings<KalmanSettings>>(KalmanAdamKernels.Prepare, new(kalman, Adam),
            kalman.MeasurementNoise, (taken, covariance) =>
            {
                KalmanStep next = kalman.Next(covariance);
                return (new(next.Constants, Adam.At(taken + 1)), next.NextCovariance);
            });
    }

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
        var pass = accelerator.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<EmaConstants>, ArrayView<int>>(EmaKernels.Kernel);
        float[] gradients = [1f, -2f, 3f, 0.5f, 7f];
        float[] average = [0.1f, 0.2f, 0.3f, 0.4f, 0.5f];
        using MemoryBuffer1D<float, Stride1D.Dense> g = accelerator.Accelerator.Allocate1D(gradients);
        using MemoryBuffer1D<float, Stride1D.Dense> state = accelerator.Accelerator.Allocate1D(average);
        using MemoryBuffer1D<EmaConstants, Stride1D.Dense> step = accelerator.Accelerator.Allocate1D([EmaConstants.For(0.98, 2.0, firstStep: false)]);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = accelerator.Accelerator.Allocate1D([1]);

        pass(gradients.Length, g.View, state.View, step.View, skip.View);

        Assert.Equal(gradients, g.GetAsArray1D());
        Assert.Equal(average, state.GetAsArray1D());
        skip.CopyFromCPU([0]);
        pass(gradients.Length, g.View, state.View, step.View, skip.View);
        Assert.NotEqual(gradients, g.GetAsArray1D());
    }

    public void Dispose() => accelerator.Dispose();

    /// <summary>
    /// Runs <paramref name="prepare"/> step after step, some steps flagged to skip, and checks after each that the slot
    /// holds what <paramref name="host"/> computes from the steps taken so far (and the covariance), that every
    /// parameter's count is the steps taken, and that a skipped step left slot, counts and covariances as they were.
    /// </summary>
    private void AssertPrepareFollowsTheHost<TConstants, TSettings>(
        Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<TConstants>, TSettings> prepare,
        TSettings settings, float covariance, Func<long, float, (TConstants Constants, float NextCovariance)> host)
        where TConstants : unmanaged, IEquatable<TConstants>
        where TSettings : unmanaged
    {
        var launch = accelerator.Accelerator.LoadAutoGroupedStreamKernel(prepare);
        using MemoryBuffer1D<int, Stride1D.Dense> skip = accelerator.Accelerator.Allocate1D<int>(1);
        using MemoryBuffer1D<long, Stride1D.Dense> steps = accelerator.Accelerator.Allocate1D<long>(Parameters);
        using MemoryBuffer1D<float, Stride1D.Dense> covariances = accelerator.Accelerator.Allocate1D(Enumerable.Repeat(covariance, Parameters).ToArray());
        using MemoryBuffer1D<TConstants, Stride1D.Dense> slot = accelerator.Accelerator.Allocate1D<TConstants>(1);
        steps.MemSetToZero();
        slot.MemSetToZero();
        long taken = 0;
        TConstants expected = default;

        for (int step = 0; step < Steps; step++)
        {
            bool skipped = SkippedSteps.Contains(step);
            skip.CopyFromCPU([skipped ? 1 : 0]);
            if (!skipped)
            {
                (expected, covariance) = host(taken, covariance);
                taken++;
            }

            // The CUDA path launches a block of threads for it; all but thread 0 must leave it alone.
            launch(256, skip.View, steps.View, covariances.View, slot.View, settings);

            Assert.Equal(expected, slot.GetAsArray1D()[0]);
            Assert.All(steps.GetAsArray1D(), count => Assert.Equal(taken, count));
            if (covariance != 0) Assert.All(covariances.GetAsArray1D(), p => Assert.Equal(covariance, p));
        }
    }
}
