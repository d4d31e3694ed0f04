using System.Reflection;
using Grokfast.Filters;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Robustness;

/// <summary>In a collection of its own that runs alone: the tensor count it watches is process-wide.</summary>
[Collection(nameof(ProcessWideCounters))]
public sealed class LifetimeAndUsabilityTests
{
    [Fact]
    public void Disabled_StepLeavesGradientsAndStateAlone_AndReenablingContinues()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using var filter = new EmaFilter(model, alpha: 0.5, lamb: 2.0);
        filter.step();
        byte[] average = filter.state_dict().Buffers["average"];
        float[] gradients = TinyMlp.Flatten(model.parameters().Select(p => p.grad!));

        filter.Enabled = false;
        filter.step();

        Assert.Equal(1, filter.StepCount);
        Assert.Equal(average, filter.state_dict().Buffers["average"]);
        Assert.Equal(gradients, TinyMlp.Flatten(model.parameters().Select(p => p.grad!)));
        filter.Enabled = true;
        filter.step();
        Assert.Equal(2, filter.StepCount);
    }

    [Fact]
    public void State_ReturnsCopiesOfTheStateTensors()
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        float[] raw = TinyMlp.Flatten(model.parameters().Select(p => p.grad!));
        using var filter = new EmaFilter(model, alpha: 0.5, lamb: 2.0);
        filter.step();

        IReadOnlyDictionary<string, Tensor> state = filter.state();
        using Tensor average = state["average"];

        // After the first step the average is the first gradient.
        FloatAssert.Close(raw, average.data<float>().ToArray(), 1e-6, 1e-7);
        average.zero_();
        Assert.NotEqual(0f, filter.state()["average"].abs().sum().item<float>());
    }

    [Fact]
    public void Step_WhileAnotherThreadIsStepping_Throws()
    {
        using var model = TinyMlp.Create();
        using var filter = new KalmanFilter(model);
        object steps = typeof(GradientFilter).GetField("steps", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(filter)!;
        FieldInfo stepping = steps.GetType().GetField("stepping", BindingFlags.Instance | BindingFlags.NonPublic)!;
        stepping.SetValue(steps, 1);

        var error = Assert.Throws<InvalidOperationException>(filter.step);
        Assert.Contains("two threads", error.Message, StringComparison.Ordinal);
        stepping.SetValue(steps, 0);
    }

    /// <summary>Live tensors and managed heap once every unreachable wrapper has been finalized.</summary>
    private static (long Tensors, long Heap) Settled()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return (Tensor.TotalCount, GC.GetTotalMemory(forceFullCollection: true));
    }

    [Theory]
    [InlineData("ema")]
    [InlineData("ma")]
    [InlineData("kalman")]
    public void TenThousandStepsInATrainingLoop_KeepManagedAndNativeMemoryFlat(string kind)
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        using var optimizer = torch.optim.SGD(model.parameters(), 1e-3);
        using GradientFilter filter = Create(kind, model);
        void Steps(int count)
        {
            for (int i = 0; i < count; i++)
            {
                TinyMlp.Backward(model, x, y);
                filter.step();
                optimizer.step();
                optimizer.zero_grad();
            }
        }

        Steps(1_000);
        (long tensors, long heap) = Settled();
        Steps(9_000);
        (long tensorsAfter, long heapAfter) = Settled();

        Assert.Equal(tensors, tensorsAfter);
        Assert.True(heapAfter - heap < 1 << 20, $"managed heap grew by {heapAfter - heap} bytes over 9,000 steps");
    }

    [Theory]
    [InlineData("ema", true)]
    [InlineData("ema", false)]
    [InlineData("ma", true)]
    [InlineData("kalman", true)]
    public void Step_AfterTheFirst_AllocatesNoManagedMemory(string kind, bool skipNonFinite)
    {
        using var model = TinyMlp.Create();
        (Tensor x, Tensor y) = TinyMlp.Data();
        TinyMlp.Backward(model, x, y);
        using GradientFilter filter = Create(kind, model);
        filter.SkipNonFinite = skipNonFinite;
        filter.step();

        long allocated = Allocations.During(() =>
        {
            filter.step();
            filter.step();
        });

        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Step_OnAParameterListModelMovedBeforeBuilding_AllocatesNoManagedMemory()
    {
        // Module.to() replaces a ParameterList's parameters but leaves the disposed ones in its registration table,
        // so the snapshot reads the list itself; were it to give up, every step would walk named_parameters().
        using var model = new DtypeModule(MixedDtypes.Shapes, MixedDtypes.All(ScalarType.Float32));
        model.to(ScalarType.Float64);
        using var filter = new EmaFilter(model);
        MixedDtypes.SetGradients(model, MixedDtypes.All(ScalarType.Float64), step: 0);
        filter.step();

        long allocated = Allocations.During(() =>
        {
            filter.step();
            filter.step();
        });

        Assert.Equal(0, allocated);
    }

    private static GradientFilter Create(string kind, nn.Module model) => kind switch
    {
        "ema" => new EmaFilter(model),
        "ma" => new WindowedMeanFilter(model, window_size: 50),
        _ => new KalmanFilter(model),
    };
}
