using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

public sealed class EmaFilterArgumentTests
{
    [Theory]
    [InlineData(-0.01)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Constructor_AlphaOutsideZeroToOne_ThrowsNamingAlpha(double alpha)
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new EmaFilter(model, alpha: alpha));
        Assert.Equal("alpha", error.ParamName);
        Assert.Contains("[0, 1)", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Constructor_NonFiniteLamb_ThrowsNamingLamb(double lamb)
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new EmaFilter(model, lamb: lamb));
        Assert.Equal("lamb", error.ParamName);
    }

    [Fact]
    public void Constructor_NullModuleOrParameters_ThrowsNamingIt()
    {
        Assert.Equal("module", Assert.Throws<ArgumentNullException>(() => new EmaFilter((Module)null!)).ParamName);
        Assert.Equal("parameters", Assert.Throws<ArgumentNullException>(() => new EmaFilter((IEnumerable<Parameter>)null!)).ParamName);
    }

    [Fact]
    public void Constructor_ModuleWithoutTrainableParameters_ThrowsNamingModule()
    {
        using var model = TinyMlp.Create();
        foreach (var p in model.parameters()) p.requires_grad = false;

        var error = Assert.Throws<ArgumentException>(() => new EmaFilter(model));
        Assert.Equal("module", error.ParamName);
    }

    [Fact]
    public void Constructor_UnknownBackend_ThrowsNamingBackend()
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new EmaFilter(model, backend: (KernelBackend)42));
        Assert.Equal("backend", error.ParamName);
    }

    [Fact]
    public void Constructor_CudaBackendForCpuParameters_ThrowsNamingTheBackendAndDevice()
    {
        using var model = TinyMlp.Create();

        var error = Assert.Throws<ArgumentException>(() => new EmaFilter(model, backend: KernelBackend.Cuda));
        Assert.Equal("backend", error.ParamName);
        Assert.Contains("cpu", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Constructor_AutoOnCpuParameters_PicksTheVectorisedCpuTwin()
    {
        using var model = TinyMlp.Create();
        using var filter = new EmaFilter(model);

        Assert.Equal(KernelBackend.Cpu, filter.Backend);
    }

    [Fact]
    public void Constructor_ComplexParameters_ThrowsNamingTheParameterAndDtype()
    {
        using var model = TinyMlp.Create();
        model.to(ScalarType.ComplexFloat32);

        var error = Assert.Throws<NotSupportedException>(() => new EmaFilter(model));
        Assert.Contains("0.weight", error.Message, StringComparison.Ordinal);
        Assert.Contains("float32", error.Message, StringComparison.Ordinal);
    }
}
