using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

/// <summary>Opening a device, and saying why it cannot be opened: the real driver where there is none, the fake one elsewhere.</summary>
public sealed class CudaPrimaryContextTests
{
    [Fact]
    public void WhyUnavailable_ADeviceThatDoesNotExist_SaysWhyWithOrWithoutADriver()
    {
        Assert.StartsWith("the CUDA driver", CudaPrimaryContext.WhyUnavailable(4096));
    }

    [NoCudaFact]
    public void Open_WithoutADriver_ThrowsSayingTheDriverLibraryCannotBeLoaded()
    {
        var error = Assert.Throws<CudaUnavailableException>(() => CudaPrimaryContext.Open(0));

        Assert.Contains("(libcuda.so.1) cannot be loaded", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_NegativeOrdinal_ThrowsNamingTheArgument()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => CudaPrimaryContext.Open(-1));
        Assert.Equal("device", error.ParamName);
    }

    [Fact]
    public void Open_WhenTheDriverDoesNotStart_SaysWhyNamingTheDriversError()
    {
        var driver = new FakeCudaDriver { InitResult = 100 };

        var error = Assert.Throws<CudaUnavailableException>(() => CudaPrimaryContext.Open(driver, 0));

        Assert.Equal($"CUDA device 0 cannot be used: the CUDA driver did not start (cuInit: {FakeCudaDriver.FailureName}).", error.Message);
    }

    [Fact]
    public void Open_ADeviceBeyondTheDriversCount_SaysHowManyItSees()
    {
        var error = Assert.Throws<CudaUnavailableException>(() => CudaPrimaryContext.Open(new FakeCudaDriver { DeviceCount = 2 }, 2));

        Assert.Equal("CUDA device 2 cannot be used: the CUDA driver sees 2 devices.", error.Message);
    }

    [Fact]
    public void Open_WhenAnAttributeQueryFails_RetainsNothingAndNamesTheCall()
    {
        var driver = new FakeCudaDriver();
        driver.Fail("cuDeviceGetAttribute", occurrence: 3);

        var error = Assert.Throws<CudaDriverException>(() => CudaPrimaryContext.Open(driver, 0));

        Assert.Equal($"cuDeviceGetAttribute failed: {FakeCudaDriver.FailureName}.", error.Message);
        Assert.Equal(0, driver.RetainedContexts);
    }

    [Fact]
    public void Open_ReadsTheDevicesShape()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(new FakeCudaDriver(), 0);

        Assert.Equal(132, context.Multiprocessors);
        Assert.Equal((9, 0), context.ComputeCapability);
    }
}
