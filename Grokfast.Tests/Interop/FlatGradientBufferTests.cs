using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

/// <summary>Runs alone: one test watches the process-wide tensor count.</summary>
[Collection(nameof(ProcessWideCounters))]
public sealed class FlatGradientBufferTests : IDisposable
{
    private const double Lamb = 2.0;

    private readonly Module<Tensor, Tensor> model = TinyMlp.Create();
    private readonly Tensor x;
    private readonly Tensor y;

    /// <summary>Every test starts after one backward pass, so the parameters have gradients to bind.</summary>
    public FlatGradientBufferTests()
    {
        (x, y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
    }

    public void Dispose()
    {
        model.Dispose();
        x.Dispose();
        y.Dispose();
    }

    [Fact]
    public void Step_AfterBackwardAndOptimizerZeroGrad_KeepsEveryGradAViewOfOneBuffer()
    {
        using var optimizer = torch.optim.SGD(model.parameters(), 0.01);
        using var filter = new EmaFilter(model, alpha: 0.5, lamb: Lamb);
        long copiesAfterBinding = filter.GradientCopies;

        for (int step = 0; step < 3; step++)
        {
            filter.step();
            optimizer.step();
            optimizer.zero_grad();
            TinyMlp.Backward(model, x, y);
        }

        Assert.Equal(copiesAfterBinding, filter.GradientCopies);
        AssertGradsAreConsecutiveSlicesOfOneStorage(model);
    }

    [Fact]
    public void Step_WritesThroughToParameterGrads_WithoutAllocatingTensors()
    {
        using var filter = new EmaFilter(model, alpha: 0.5, lamb: Lamb);
        float[] raw = TinyMlp.Flatten(Grads(model));
        long tensorsBefore = Tensor.TotalCount;

        filter.step();

        Assert.Equal(tensorsBefore, Tensor.TotalCount);
        // The first EMA step returns g * (1 + lamb): the kernel's writes are visible through p.grad.
        FloatAssert.Close(raw.Select(g => g * (float)(1 + Lamb)).ToArray(), TinyMlp.Flatten(Grads(model)), 1e-6, 1e-7);
    }

    [Fact]
    public void Step_AfterModuleZeroGradSetsGradsToNull_RebindsAndFiltersTheFreshGradients()
    {
        using var filter = new EmaFilter(model, alpha: 0.5, lamb: Lamb);
        filter.step();

        model.zero_grad();
        Assert.All(model.parameters(), p => Assert.Null(p.grad));
        TinyMlp.Backward(model, x, y);
        float[] raw = TinyMlp.Flatten(Grads(model));
        filter.step();

        // Same gradient twice: ema stays g, so the filtered gradient is g * (1 + lamb) again.
        FloatAssert.Close(raw.Select(g => g * (float)(1 + Lamb)).ToArray(), TinyMlp.Flatten(Grads(model)), 1e-6, 1e-7);
        AssertGradsAreConsecutiveSlicesOfOneStorage(model);
    }

    [Fact]
    public void Step_AfterUserAssignsANewGradient_FiltersTheAssignedValues()
    {
        using var filter = new EmaFilter(model, alpha: 0.5, lamb: Lamb);
        Parameter first = model.parameters().First();
        using var assigned = torch.full_like(first, 3.0f);
        first.grad = assigned;

        filter.step();

        using Tensor grad = first.grad!;
        Assert.True(grad.allclose(torch.full_like(first, 3.0f * (float)(1 + Lamb))));
        AssertGradsAreConsecutiveSlicesOfOneStorage(model);
    }

    [Fact]
    public void Step_WhenAParameterHasNoGradient_SkipsItAndKeepsItNull()
    {
        using var filter = new EmaFilter(model, alpha: 0.5, lamb: Lamb);
        Parameter last = model.parameters().Last();
        last.grad = null;

        filter.step();

        Assert.Equal(1, filter.SkippedParameterCount);
        Assert.Null(last.grad);
    }

    [Fact]
    public void Step_AfterTheModuleReplacesAParameter_ThrowsNamingIt()
    {
        using var filter = new EmaFilter(model, alpha: 0.5, lamb: Lamb);
        var layer = (Linear)model.children().First();
        layer.bias = new Parameter(torch.zeros(31));

        var error = Assert.Throws<InvalidOperationException>(filter.step);
        Assert.Contains("0.bias", error.Message, StringComparison.Ordinal);
    }

    private static IEnumerable<Tensor> Grads(Module model) => model.parameters().Select(p => p.grad!);

    private static void AssertGradsAreConsecutiveSlicesOfOneStorage(Module model)
    {
        using var scope = torch.NewDisposeScope();
        Parameter[] parameters = model.parameters().ToArray();
        nint basePointer = parameters[0].grad!.storage<float>().data_ptr();
        long expectedOffset = 0;
        foreach (Parameter p in parameters)
        {
            Tensor grad = p.grad!;
            Assert.Equal(basePointer, grad.storage<float>().data_ptr());
            Assert.Equal(expectedOffset, grad.storage_offset());
            expectedOffset += p.numel();
        }
    }
}
