using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The CUDA objects release what they took, whichever step of their construction fails, and their disposal never
/// throws: each driver failure injected through <see cref="FakeCudaDriver"/>, on a machine without a GPU; and a
/// guarded step only queues work. (Run alone: one test counts the whole process's allocations.)
/// </summary>
[Collection(nameof(ProcessWideCounters))]
public sealed class CudaLifetimeTests
{
    private readonly FakeCudaDriver driver = new();

    [Fact]
    public void KernelModule_WhenItsEntryPointIsMissing_UnloadsTheModule()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        using var steps = new CudaStepState(context, 3);
        driver.Fail("cuModuleGetFunction", occurrence: 3);

        var error = Assert.Throws<CudaDriverException>(() => Ema(context, steps, 0x10000, 0x20000, 1000));

        Assert.StartsWith("cuModuleGetFunction failed", error.Message, StringComparison.Ordinal);
        // The step state's scan and record kernels stay; the pass that was loaded, and the prepare kernel, are gone.
        Assert.Equal(2, driver.LoadedModules);
    }

    [Fact]
    public void KernelModule_WhenTheOccupancyQueryFails_UnloadsTheModule()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        using var steps = new CudaStepState(context, 3);
        driver.Fail("cuOccupancyMaxActiveBlocksPerMultiprocessor", occurrence: 3);

        var error = Assert.Throws<CudaDriverException>(() => Ema(context, steps, 0x10000, 0x20000, 1000));

        Assert.StartsWith("cuOccupancyMaxActiveBlocksPerMultiprocessor failed", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, driver.LoadedModules);
    }

    [Fact]
    public void CudaPass_IsSizedByTheDriversOccupancyForItsKernel()
    {
        var occupancyLimited = new FakeCudaDriver { ResidentBlocksPerMultiprocessor = 3 };
        using CudaPrimaryContext context = CudaPrimaryContext.Open(occupancyLimited, 0);
        using var steps = new CudaStepState(context, 1);
        using ICudaPass<EmaSettings> ema = Ema(context, steps, 0x10000, 0x20000, 1_000_000_000);

        ema.Run(new DeviceRun(0, 0, 1, 0, 1_000_000_000), new PassSettings<EmaSettings>(EmaSettings.From(0.98, 2.0), default));

        // 132 SMs (the fake's device) × the 3 blocks the occupancy query allows, not × 2048 / 256 threads.
        Assert.Equal(396u, occupancyLimited.LastLaunchBlocks);
    }

    [Fact]
    public void KernelModule_ALaunchWhoseArgumentsDoNotMatchTheSignature_ThrowsBeforeQueueingAnything()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        using var record = new CudaKernelModule(context, (Action<ILGPU.Index1D, ILGPU.ArrayView<int>, ILGPU.ArrayView<long>>)FiniteScan.Record);
        var flag = new DeviceView(0x10000, 1);

        // The record kernel takes two views; an int where the second belongs is refused by its size.
        var error = Assert.Throws<ArgumentException>(() => Launch(record, flag, 2));

        Assert.Contains("16, 16", error.Message, StringComparison.Ordinal);
        Assert.Equal(0u, driver.LastLaunchBlocks);
        Launch(record, flag, new DeviceView(0x20000, 2));
        Assert.Equal(1u, driver.LastLaunchBlocks);
    }

    private static unsafe void Launch<T>(CudaKernelModule module, DeviceView first, T second)
        where T : unmanaged => module.Launch(1, KernelArgument.Of(&first), KernelArgument.Of(&second));

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void StepState_WhenAnAllocationFails_UnloadsItsKernelsAndFreesWhatItAllocated(int failingAllocation)
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        driver.Fail("cuMemAlloc", failingAllocation);

        Assert.Throws<CudaDriverException>(() => new CudaStepState(context, 10));

        Assert.Equal(0, driver.LoadedModules);
        Assert.Equal(0, driver.Allocations);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(9)]
    public void StepStateWithClipping_LoadsTheNormKernels_AndWhenAnAllocationFails_FreesEverything(int failingAllocation)
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        GradientFormat[] formats = [GradientFormat.Float32, GradientFormat.BFloat16];
        driver.Fail("cuMemAlloc", failingAllocation);

        Assert.Throws<CudaDriverException>(() => new CudaStepState(context, 10, formats, clippedElements: 100_000));

        Assert.Equal(0, driver.LoadedModules);
        Assert.Equal(0, driver.Allocations);
        using (new CudaStepState(context, 10, formats, clippedElements: 100_000))
        {
            // Two scans and the record; two lane kernels, the columns, the folds and the clip.
            Assert.Equal(8, driver.LoadedModules);
            Assert.Equal(9, driver.Allocations);
        }
        Assert.Equal(0, driver.LoadedModules);
    }

    [Fact]
    public void Pass_WhenItsConstantSlotsCannotBeAllocated_UnloadsBothKernels()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        using var steps = new CudaStepState(context, 3);
        driver.Fail("cuMemAlloc", occurrence: 6);

        Assert.Throws<CudaDriverException>(() => Passes.CreateCuda<KalmanSettings, KalmanConstants>(context, steps, GradientFormat.Float32, PassUpdate.WriteBack,
            PassBuffers.Filter(0x10000, 0x20000, 0, 1000, 1)));

        Assert.Equal(2, driver.LoadedModules);
        Assert.Equal(5, driver.Allocations);
    }

    [Fact]
    public void DeviceMemory_WhenZeroingFails_FreesTheMemory()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        driver.Fail("cuMemsetD32Async");

        Assert.Throws<CudaDriverException>(() => new CudaDeviceMemory(context, 1000));

        Assert.Equal(0, driver.Allocations);
    }

    [Fact]
    public void EventTimer_WhenTheSecondEventCannotBeCreated_DestroysTheFirst()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        driver.Fail("cuEventCreate", occurrence: 2);

        Assert.Throws<CudaDriverException>(() => new CudaEventTimer(context));

        Assert.Equal(0, driver.Events);
    }

    [Fact]
    public void Dispose_WhenTheDriverFailsToUnload_DoesNotThrowAndStillReleasesTheContext()
    {
        CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        var steps = new CudaStepState(context, 3);
        ICudaPass<EmaSettings> kernel = Ema(context, steps, 0x10000, 0x20000, 1000);
        driver.Fail("cuModuleUnload");

        kernel.Dispose();
        steps.Dispose();
        context.Dispose();

        Assert.Equal(0, driver.RetainedContexts);
    }

    [Fact]
    public void Context_DisposedBeforeWhatWasMadeInIt_IsReleasedAfterTheLastOfThem()
    {
        CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        var scan = new CudaStepState(context, 2);
        var memory = new CudaDeviceMemory(context, 16);

        context.Dispose();
        Assert.Equal(1, driver.RetainedContexts);
        scan.Dispose();
        Assert.Equal(1, driver.RetainedContexts);
        memory.Dispose();

        Assert.Equal(0, driver.RetainedContexts);
        Assert.Equal(0, driver.LoadedModules);
        Assert.Equal(0, driver.Allocations);
    }

    [Fact]
    public void Dispose_Twice_ReleasesOnce()
    {
        CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        var memory = new CudaDeviceMemory(context, 16);

        memory.Dispose();
        memory.Dispose();
        context.Dispose();
        context.Dispose();

        Assert.Equal(0, driver.Allocations);
        Assert.Equal(0, driver.RetainedContexts);
    }

    [Fact]
    public void GuardedStep_QueuesItsWorkWithoutWaitingForTheDeviceOrAllocating()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        using var steps = new CudaStepState(context, 4);
        using ICudaPass<EmaSettings> ema = Ema(context, steps, 0x10000, 0x20000, 1000);
        using ICudaPass<WindowedMeanSettings> ma = Passes.CreateCuda<WindowedMeanSettings, WindowedMeanConstants>(context, steps, GradientFormat.Float32,
            PassUpdate.WriteBack, PassBuffers.Filter(0x10000, 0x30000, 0x40000, 1000, 5));
        var emaSettings = new PassSettings<EmaSettings>(EmaSettings.From(0.98, 2.0), default);
        var maSettings = new PassSettings<WindowedMeanSettings>(WindowedMeanSettings.From(5, mean: true, lamb: 5.0, warmup: true, trigger: false), default);
        // What GradientFilter queues for a guarded CUDA step with two runs.
        void Step()
        {
            steps.BeginStep();
            steps.Scan(0x10000, 600);
            steps.Scan(0x10000 + 2400, 400);
            steps.Record();
            ema.Run(new DeviceRun(0, 0, 2, 0, 600), emaSettings);
            ma.Run(new DeviceRun(1, 2, 4, 600, 400), maSettings);
        }
        Step();
        int waitsBefore = driver.HostWaits;

        long allocated = Allocations.During(Step);

        Assert.Equal(waitsBefore, driver.HostWaits);
        Assert.Equal(0, allocated);
        steps.ReadOutcome();
        Assert.Equal(waitsBefore + 1, driver.HostWaits);
    }

    [Fact]
    public void ClippedFusedStep_QueuesEveryKernelWithArgumentsMatchingItsSignature_WithoutWaitingOrAllocating()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        using var steps = new CudaStepState(context, 3, [GradientFormat.Float32, GradientFormat.BFloat16, GradientFormat.Float16], clippedElements: 3000);
        using ICudaPass<EmaSettings> adam = Passes.CreateCuda<EmaSettings, EmaConstants>(context, steps, GradientFormat.BFloat16, PassUpdate.AdamMaster,
            PassBuffers.Filter(0x10000, 0x20000, 0, 1000, 1).WithAdam(0x30000, 0x40000, 0x50000, 0x60000));
        var settings = new PassSettings<EmaSettings>(EmaSettings.From(0.98, 2.0), new AdamSettings(1e-3, 0.9, 0.999, 1e-8, 0.01, Decoupled: true));
        // What a fused optimizer queues for a guarded, clipped CUDA step over three groups: the norm's lanes per run, its
        // columns, folds and scale, the record, then each pass with its prepare kernel (one pass here). Every launch is
        // checked against its kernel's signature before it is queued, so an argument out of place throws here.
        void Step()
        {
            steps.BeginStep();
            steps.NormScan(0x10000, 1000, GradientFormat.BFloat16);
            steps.NormScan(0x70000, 1500, GradientFormat.Float32);
            steps.NormScan(0x80000, 500, GradientFormat.Float16);
            steps.Clip(1.0, 0x90000, guard: true);
            steps.Record();
            adam.Run(new DeviceRun(0, 0, 1, 0, 1000), settings);
        }
        Step();
        int launchesBefore = driver.Launches, waitsBefore = driver.HostWaits;
        Step();
        int launches = driver.Launches - launchesBefore;

        long allocated = Allocations.During(Step);

        Assert.Equal(9, launches);
        Assert.Equal(waitsBefore, driver.HostWaits);
        Assert.Equal(0, allocated);
    }

    private static ICudaPass<EmaSettings> Ema(CudaPrimaryContext context, CudaStepState steps, nint gradients, nint average, long length) =>
        Passes.CreateCuda<EmaSettings, EmaConstants>(context, steps, GradientFormat.Float32, PassUpdate.WriteBack, PassBuffers.Filter(gradients, average, 0, length, 1));
}
