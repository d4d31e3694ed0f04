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
    public void ParameterListModelMovedAfterBuilding_MakesStepThrowNamingTheParameter()
    {
        using var model = new DtypeModule(MixedDtypes.Shapes, MixedDtypes.All(ScalarType.Float32));
        using var filter = new EmaFilter(model);
        model.to(ScalarType.Float64);

        var error = Assert.Throws<InvalidOperationException>(filter.step);
        Assert.Contains("'parameterList.0'", error.Message, StringComparison.Ordinal);
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
    public void FrozenParameterAssignedAfterBuilding_LeavesTheFilterWorkingAsBefore()
    {
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var replaced = TinyMlp.Create();
        using var untouched = TinyMlp.Create();
        foreach (var model in new[] { replaced, untouched }) ((Linear)model.children().First()).bias!.requires_grad = false;
        TinyMlp.Backward(replaced, x, y);
        TinyMlp.Backward(untouched, x, y);
        using var filter = new EmaFilter(replaced, alpha: 0.9, lamb: 5.0);
        using var reference = new EmaFilter(untouched, alpha: 0.9, lamb: 5.0);
        filter.step();
        reference.step();
        var first = (Linear)replaced.children().First();
        // Another Parameter object with the same values: the forward pass, and so the gradients, stay the same.
        using (torch.no_grad()) first.bias = new Parameter(first.bias!.detach().clone(), requires_grad: false);

        for (int step = 0; step < 2; step++)
        {
            TinyMlp.Backward(replaced, x, y);
            TinyMlp.Backward(untouched, x, y);
            filter.step();
            reference.step();
        }

        Assert.Equal(3, filter.StepCount);
        Assert.Equal(TinyMlp.Flatten(untouched.parameters().Where(p => p.requires_grad).Select(p => p.grad!)),
            TinyMlp.Flatten(replaced.parameters().Where(p => p.requires_grad).Select(p => p.grad!)));
    }

    [Fact]
    public void ModelOfMixedDtypes_FrozenParameterRegisteredAfterBuilding_LeavesTheFilterWorkingAsBefore()
    {
        // The layout groups parameters by dtype, so it is not module order: the check that runs after any change
        // to the module's registrations (here, or after Module.to on a ParameterList) must compare in module order.
        ScalarType[] dtypes = MixedDtypes.Mixed;
        using var changed = new DtypeModule(MixedDtypes.Shapes, dtypes);
        using var untouched = new DtypeModule(MixedDtypes.Shapes, dtypes);
        using var filter = new EmaFilter(changed, alpha: 0.9, lamb: 5.0);
        using var reference = new EmaFilter(untouched, alpha: 0.9, lamb: 5.0);

        for (int step = 0; step < 3; step++)
        {
            if (step == 1) changed.register_parameter("frozen", new Parameter(torch.zeros(2), requires_grad: false));
            MixedDtypes.SetGradients(changed, dtypes, step);
            MixedDtypes.SetGradients(untouched, dtypes, step);
            filter.step();
            reference.step();
        }

        Assert.Equal(3, filter.StepCount);
        for (int i = 0; i < dtypes.Length; i++) Assert.Equal(untouched.GradientBytes(i), changed.GradientBytes(i));
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

    [Theory]
    [InlineData(ScalarType.ComplexFloat32)]
    [InlineData(ScalarType.ComplexFloat64)]
    public void UnsupportedParameterDtype_IsRefusedNamingTheParameterAndTheSupportedDtypes(ScalarType dtype)
    {
        using var model = TinyMlp.Create();
        model.to(dtype);

        var error = Assert.Throws<NotSupportedException>(() => new KalmanFilter(model));
        Assert.Contains("'0.weight'", error.Message, StringComparison.Ordinal);
        Assert.Contains(dtype.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("float32, bfloat16, float16 and float64", error.Message, StringComparison.Ordinal);
    }

    private static bool Same(Tensor a, Tensor b)
    {
        using Tensor equal = a.eq(b).all();
        return equal.item<bool>();
    }
}
