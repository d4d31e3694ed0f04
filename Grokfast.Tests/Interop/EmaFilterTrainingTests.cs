using Grokfast.Filters;
using Grokfast.Kernels.Backends;
using Grokfast.Reference;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Tests.Interop;

public sealed class EmaFilterTrainingTests
{
    private const int Steps = 30;

    [Theory]
    [InlineData(KernelBackend.Cpu)]
    [InlineData(KernelBackend.IlgpuCpu)]
    public void FusedFilter_In30StepsOfTraining_MatchesReferenceOps(KernelBackend backend)
    {
        float[] fused = Train(model => Stepper(new EmaFilter(model, alpha: 0.9, lamb: 2.0, backend)));
        float[] reference = Train(model => Stepper(new ReferenceEma(model, alpha: 0.9, lamb: 2.0)));

        FloatAssert.Close(reference, fused, rtol: 0, atol: 1e-6);
    }

    [Fact]
    public void FusedFilter_ChangesTraining_ComparedWithNoFilter()
    {
        float[] fused = Train(model => Stepper(new EmaFilter(model, alpha: 0.9, lamb: 2.0)));
        float[] plain = Train(_ => (() => { }, null));

        Assert.NotEqual(plain, fused);
    }

    /// <summary>Trains a fresh tiny MLP with Adam, calling the filter's step between backward and the optimizer.</summary>
    private static float[] Train(Func<Module<Tensor, Tensor>, (Action Step, IDisposable? Owner)> makeFilter)
    {
        using var model = TinyMlp.Create();
        (Tensor inputs, Tensor targets) = TinyMlp.Data();
        using var optimizer = torch.optim.Adam(model.parameters(), lr: 1e-2);
        (Action filterStep, IDisposable? owner) = makeFilter(model);
        using IDisposable? filter = owner;
        for (int step = 0; step < Steps; step++)
        {
            TinyMlp.Backward(model, inputs, targets);
            filterStep();
            optimizer.step();
            optimizer.zero_grad();
        }
        return TinyMlp.Flatten(model.parameters());
    }

    private static (Action, IDisposable?) Stepper(EmaFilter filter) => (filter.step, filter);

    private static (Action, IDisposable?) Stepper(ReferenceEma filter) => (filter.step, filter);
}
