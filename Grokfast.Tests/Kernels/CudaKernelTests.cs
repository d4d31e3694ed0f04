using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

/// <summary>
/// The driver-API path's step bookkeeping on a GPU, on multi-million-element buffers: the non-finite scan and a skipped
/// step (the passes themselves: CudaPassMatrixTests). Skipped without a GPU.
/// </summary>
[Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
public sealed class CudaKernelTests
{
    private const int Length = 3_000_017;
    private static readonly DeviceRun Whole = new(0, 0, 1, 0, Length);

    [CudaFact]
    public void FiniteScanOnCuda_FindsNaNAndInfinitiesAnywhere_AndCountsTheSkippedSteps()
    {
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using var steps = new CudaStepState(context, 1);
        using var data = new CudaDeviceMemory(context, Length);
        float[] values = Gradients.Random(Length, seed: 3);
        data.CopyFrom(values);
        steps.BeginStep();
        steps.Scan(data.Address, Length);
        steps.Record();
        Assert.Equal((0, false), steps.ReadOutcome());

        int skipped = 0;
        foreach (float poison in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            foreach (int position in new[] { 0, Length / 2, Length - 1 })
            {
                float[] poisoned = (float[])values.Clone();
                poisoned[position] = poison;
                data.CopyFrom(poisoned);
                steps.BeginStep();
                steps.Scan(data.Address, Length);
                steps.Record();
                Assert.Equal((++skipped, true), steps.ReadOutcome());
            }
        }
    }

    [CudaFact]
    public void SkippedStepOnCuda_LeavesGradientsStateAndCountsUntouched()
    {
        EmaSettings settings = EmaSettings.From(0.98, 5.0);
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        using var steps = new CudaStepState(context, 1);
        using var g = new CudaDeviceMemory(context, Length);
        using var state = new CudaDeviceMemory(context, Length);
        using ICudaPass<EmaSettings> cuda = Passes.CreateCuda<EmaSettings, EmaConstants>(context, steps, GradientFormat.Float32, PassUpdate.WriteBack,
            PassBuffers.Filter(g.Address, state.Address, 0, Length, 1));
        float[] gradient = Gradients.Random(Length, seed: 1);
        g.CopyFrom(gradient);
        steps.BeginStep();
        cuda.Run(Whole, new PassSettings<EmaSettings>(settings, default));
        float[] stateBefore = state.ToArray(Length);
        gradient[Length / 3] = float.NaN;
        g.CopyFrom(gradient);

        steps.BeginStep();
        steps.Scan(g.Address, Length);
        steps.Record();
        cuda.Run(Whole, new PassSettings<EmaSettings>(settings, default));

        Assert.Equal(gradient, g.ToArray(Length));
        Assert.Equal(stateBefore, state.ToArray(Length));
        long[] counts = new long[1];
        steps.ReadSteps(counts);
        Assert.Equal(1, counts[0]);
    }
}
