using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The CUDA objects release what they took, whichever step of their construction fails, and their disposal never
/// throws: each driver failure injected through <see cref="FakeCudaDriver"/>, on a machine without a GPU.
/// </summary>
public sealed class CudaLifetimeTests
{
    private readonly FakeCudaDriver driver = new();

    [Fact]
    public void KernelModule_WhenItsEntryPointIsMissing_UnloadsTheModule()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        driver.Fail("cuModuleGetFunction");

        var error = Assert.Throws<CudaDriverException>(() => EmaKernels.CreateCuda(context));

        Assert.StartsWith("cuModuleGetFunction failed", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, driver.LoadedModules);
    }

    [Fact]
    public void FiniteScan_WhenItsFlagCannotBeAllocated_UnloadsItsKernel()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        driver.Fail("cuMemAlloc");

        Assert.Throws<CudaDriverException>(() => new CudaFiniteScan(context));

        Assert.Equal(0, driver.LoadedModules);
        Assert.Equal(0, driver.Allocations);
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
        IGradientStateKernel<EmaConstants> kernel = EmaKernels.CreateCuda(context);
        driver.Fail("cuModuleUnload");

        kernel.Dispose();
        context.Dispose();

        Assert.Equal(0, driver.RetainedContexts);
    }

    [Fact]
    public void Context_DisposedBeforeWhatWasMadeInIt_IsReleasedAfterTheLastOfThem()
    {
        CudaPrimaryContext context = CudaPrimaryContext.Open(driver, 0);
        var scan = new CudaFiniteScan(context);
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
}
