using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Robustness;

public sealed class ParameterSetTests
{
    [Fact]
    public void ParameterWithoutGradient_KeepsItsStateWhileTheOthersAreFiltered()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using var filter = new KalmanFilter(model);
        filter.step();
        Parameter last = model.parameters().Last();
        long lastLength = last.numel();
        using Tensor before = filter.state()["estimates"];
        last.grad = null;
        TinyMlp.Backward(model, x, y);
        last.grad = null;

        filter.step();

        using Tensor after = filter.state()["estimates"];
        long total = after.numel();
        Assert.True(Same(before.narrow(0, total - lastLength, lastLength), after.narrow(0, total - lastLength, lastLength)));
        Assert.False(Same(before.narrow(0, 0, total - lastLength), after.narrow(0, 0, total - lastLength)));
        Assert.Equal(1, filter.SkippedParameterCount);
    }

    [Fact]
    public void RequiresGradSwitchedOff_MakesStepThrowNamingTheParameter()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using var filter = new EmaFilter(model);
        model.parameters().First().requires_grad = false;

        var error = Assert.Throws<InvalidOperationException>(filter.step);
        Assert.Contains("requires_grad", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ModuleMovedToAnotherDtypeAfterBuilding_MakesStepThrowNamingTheParameter()
    {
        using var model = TinyMlp.Create();
        using var filter = new EmaFilter(model);
        model.to(ScalarType.Float64);

        var error = Assert.Throws<InvalidOperationException>(filter.step);
        Assert.Contains("'0.weight'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainableParameterAssignedAfterBuilding_MakesStepThrowNamingIt()
    {
        using var model = TinyMlp.Create();
        using var filter = new KalmanFilter(model);
        var last = (Linear)model.children().Last();
        last.bias = new Parameter(torch.zeros(3));

        var error = Assert.Throws<InvalidOperationException>(filter.step);
        Assert.Contains("'4.bias'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FrozenParameterAssignedAfterBuilding_LeavesTheFilterWorking()
    {
        using var model = TinyMlp.Create();
        var first = (Linear)model.children().First();
        first.bias!.requires_grad = false;
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using var filter = new EmaFilter(model);
        filter.step();
        first.bias = new Parameter(torch.ones(31), requires_grad: false);

        TinyMlp.Backward(model, x, y);
        filter.step();
        filter.step();

        Assert.Equal(3, filter.StepCount);
    }

    [Fact]
    public void SparseGradient_IsRefusedNamingTheParameter()
    {
        using var model = Sequential(("table", Embedding(10, 4, sparse: true)), ("head", Linear(4, 1)));
        using var filter = new EmaFilter(model);
        using (var scope = torch.NewDisposeScope())
            model.forward(torch.tensor(new long[] { 1, 2, 3 })).sum().backward();

        var error = Assert.Throws<NotSupportedException>(filter.step);
        Assert.Contains("table.weight", error.Message, StringComparison.Ordinal);
        Assert.Contains("sparse", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParametersOnDifferentDtypes_AreRefusedNamingTheParameter()
    {
        using var model = TinyMlp.Create();
        var first = (Linear)model.children().First();
        first.to(ScalarType.Float64);

        var error = Assert.Throws<NotSupportedException>(() => new EmaFilter(model));
        Assert.Contains("0.weight", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.ComplexFloat32)]
    public void UnsupportedParameterDtype_IsRefusedNamingTheParameterAndTheSupportedDtype(ScalarType dtype)
    {
        using var model = TinyMlp.Create();
        model.to(dtype);

        var error = Assert.Throws<NotSupportedException>(() => new KalmanFilter(model));
        Assert.Contains("'0.weight'", error.Message, StringComparison.Ordinal);
        Assert.Contains(dtype.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("float32", error.Message, StringComparison.Ordinal);
    }

    private static bool Same(Tensor a, Tensor b)
    {
        using Tensor equal = a.eq(b).all();
        return equal.item<bool>();
    }
}
