using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Tests.Kernels;

public sealed class CudaPrimaryContextTests
{
    [Fact]
    public void TryOpen_ADeviceThatDoesNotExist_ReturnsNullWithOrWithoutADriver()
    {
        Assert.Null(CudaPrimaryContext.TryOpen(4096));
    }

    [Fact]
    public void TryOpen_NegativeOrdinal_ThrowsNamingTheArgument()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => CudaPrimaryContext.TryOpen(-1));
        Assert.Equal("device", error.ParamName);
    }
}
