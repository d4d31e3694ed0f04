using Grokfast.Kernels.Adam;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Ema;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.Kalman;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Engine;

/// <summary>
/// Every pass the engine builds on the host — filter × gradient format × update × backend (the CPU twin, the ILGPU pass
/// on ILGPU's CPU accelerator) — against the scalar reference loop, bit for bit (<see cref="PassMatrix"/>).
/// </summary>
public sealed class PassMatrixTests
{
    public static TheoryData<string, GradientFormat, PassUpdate, KernelBackend> Cells() => PassMatrix.Cells(KernelBackend.Cpu, KernelBackend.IlgpuCpu);

    [Theory]
    [MemberData(nameof(Cells))]
    public void Pass_OverManySteps_MatchesTheScalarReferenceLoopBitForBit(string filter, GradientFormat format, PassUpdate update, KernelBackend backend) =>
        PassMatrix.Check(filter, format, update, backend);
}

/// <summary>The same matrix on CUDA, each pass with its prepare kernel deriving the constants on the device. Skipped without a GPU.</summary>
[Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
public sealed class CudaPassMatrixTests
{
    public static TheoryData<string, GradientFormat, PassUpdate, KernelBackend> Cells() => PassMatrix.Cells(KernelBackend.Cuda);

    [Theory]
    [MemberData(nameof(Cells))]
    public void Pass_OverManySteps_MatchesTheScalarReferenceLoopBitForBit(string filter, GradientFormat format, PassUpdate update, KernelBackend backend)
    {
        if (!CudaFactAttribute.HasCudaDevice) Assert.Skip($"No CUDA device here: {CudaFactAttribute.WhyNoCudaDevice.Value}.");
        PassMatrix.Check(filter, format, update, backend);
    }
}

/// <summary>
/// One cell of the engine's matrix: a pass over many steps against the scalar reference loop, bit for bit — the
/// gradients, the filter's state, and for Adam the parameters, master weights and moments. Each step runs as two runs (two
/// parameters): the first starts aligned (the ILGPU pass moves four elements per access, the twin two vectors, each with a
/// tail), the second does not (the ILGPU pass goes one by one) and spans two of the blocks a 16-bit Adam pass takes on the CPU.
/// </summary>
internal static class PassMatrix
{
    private const int Length = 1100;
    private const int Split = 101;
    private const int Steps = 12;
    private const int Window = 5;

    // Not a power of two: multiplying by it rounds, so a fused multiply-add anywhere would change the result.
    private const float Lamb = 5f;

    public static TheoryData<string, GradientFormat, PassUpdate, KernelBackend> Cells(params KernelBackend[] backends)
    {
        var cells = new TheoryData<string, GradientFormat, PassUpdate, KernelBackend>();
        foreach (string filter in new[] { "ema", "kalman", "ma", "none" })
        {
            foreach ((GradientFormat format, PassUpdate update) in Passes.Instantiations)
            {
                // Without a filter or Adam a pass would do nothing; nothing builds one.
                if (filter == "none" && update == PassUpdate.WriteBack) continue;
                foreach (KernelBackend backend in backends) cells.Add(filter, format, update, backend);
            }
        }
        return cells;
    }

    public static void Check(string filter, GradientFormat format, PassUpdate update, KernelBackend backend)
    {
        using IlgpuAccelerator? accelerator = backend == KernelBackend.IlgpuCpu ? IlgpuAccelerator.CreateCpu() : null;
        using CudaPrimaryContext? context = backend == KernelBackend.Cuda ? CudaPrimaryContext.Open(0) : null;
        var cell = new Cell(format, update, accelerator, context);
        switch (filter)
        {
            case "ema":
                var ema = new ScalarEma(Length, 0.875f, Lamb);
                cell.Check<EmaSettings, EmaConstants>(EmaSettings.From(0.875, Lamb), ema.Step, memory => cell.AssertEstimates(memory, ema.State),
                    gradients: (step, c) => Cancelling(step, i => -c.Lamb * c.Alpha * ema.State[i] / (1 + c.Lamb * c.OneMinusAlpha)));
                break;
            case "kalman":
                var kalman = new ScalarKalman(Length, 1e-3f, 1e-2f, Lamb);
                cell.Check<KalmanSettings, KalmanConstants>(KalmanSettings.From(1e-3, 1e-2, Lamb), kalman.Step, memory => cell.AssertEstimates(memory, kalman.State),
                    gradients: (step, c) => Cancelling(step, i => -c.Lamb * (1 - c.Gain) * kalman.State[i] / (1 + c.Lamb * c.Gain)), covariance: 1e-2f);
                break;
            case "ma":
                var ma = new ScalarRunningWindow(Length, Window, 3f, mean: true, warmup: true, trigger: false);
                cell.Check<WindowedMeanSettings, WindowedMeanConstants>(WindowedMeanSettings.From(Window, mean: true, lamb: 3.0, warmup: true, trigger: false), ma.Step, memory =>
                {
                    cell.AssertEstimates(memory, ma.Ring);
                    BitAssert.Equal<double>(ma.Sums, PassMemory.Span<double>(memory.Sums, Length), $"{cell}: sums");
                });
                break;
            default:
                cell.Check<NoFilter, NoFilter>(default, _ => { }, _ => { });
                break;
        }
    }

    /// <summary>
    /// After a random first step, gradients that nearly cancel what the step adds (<paramref name="cancelling"/> gives the
    /// exact cancelling value of element i), perturbed by 1e-4 relative: where g and the amplified state nearly cancel, a
    /// fused multiply-add rounds differently from two operations.
    /// </summary>
    private static float[] Cancelling(int step, Func<int, double> cancelling)
    {
        float[] g = Gradients.Random(Length, seed: step);
        if (step == 0) return g;
        for (int i = 0; i < g.Length; i++) g[i] = (float)(cancelling(i) * (1 + 1e-4 * g[i]));
        return g;
    }

    /// <summary>One cell's format, update and backend, and the reference loop's side of a run.</summary>
    private sealed class Cell(GradientFormat format, PassUpdate update, IlgpuAccelerator? accelerator, CudaPrimaryContext? context)
    {
        private static readonly AdamSettings Adam = new(Lr: 1e-2, Beta1: 0.9, Beta2: 0.98, Eps: 1e-8, WeightDecay: 0.1, Decoupled: true);

        public void Check<TSettings, TFilter>(TSettings settings, Action<float[]> reference, Action<PassMemory> assertState,
            Func<int, TFilter, float[]>? gradients = null, float covariance = 0)
            where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
            where TFilter : unmanaged, IFilterStep<TFilter>
        {
            using var memory = new PassMemory(format, Length, TSettings.Slots(settings), TFilter.KeepsSum, update);
            bool adam = update != PassUpdate.WriteBack;
            float[] weights = Quantized(Gradients.Random(Length, seed: 1000));
            var scalarAdam = new ScalarAdam((float[])weights.Clone(), Adam.Lr, Adam.Beta1, Adam.Beta2, Adam.Eps, Adam.WeightDecay, Adam.Decoupled);
            if (adam) Store(memory.Parameters, weights);
            if (update == PassUpdate.AdamMaster) weights.CopyTo(PassMemory.Span<float>(memory.Master, Length));
            using var runner = new Runner<TSettings, TFilter>(memory, format, update, accelerator, context, covariance);
            for (int step = 0; step < Steps; step++)
            {
                // The reference's constants of the step, for gradients built from its state.
                TFilter constants = TSettings.At(settings, step, covariance);
                covariance = TSettings.NextCovariance(settings, covariance);
                float[] g = Quantized(gradients?.Invoke(step, constants) ?? Gradients.Random(Length, seed: step));
                Store(memory.Gradients, g);
                runner.Step(settings, step, adam ? Adam : default);

                float[] filtered = (float[])g.Clone();
                reference(filtered);
                string context = $"{this}, step {step}";
                assertState(memory);
                if (!adam)
                {
                    AssertStored(memory.Gradients, filtered, $"{context}: gradients");
                    continue;
                }
                AssertStored(memory.Gradients, g, $"{context}: gradients (Adam takes them unchanged)");
                // Direct 16-bit weights start each step from the stored parameter; master weights keep their float32 value.
                if (update == PassUpdate.AdamDirect) Quantized(scalarAdam.Parameters).CopyTo(scalarAdam.Parameters, 0);
                scalarAdam.Step(filtered);
                AssertStored(memory.Parameters, scalarAdam.Parameters, $"{context}: parameters");
                if (update == PassUpdate.AdamMaster) BitAssert.Equal<float>(scalarAdam.Parameters, PassMemory.Span<float>(memory.Master, Length), $"{context}: master weights");
                BitAssert.Equal<float>(scalarAdam.FirstMoments, PassMemory.Span<float>(memory.FirstMoments, Length), $"{context}: first moments");
                BitAssert.Equal<float>(scalarAdam.SecondMoments, PassMemory.Span<float>(memory.SecondMoments, Length), $"{context}: second moments");
            }
        }

        public void AssertEstimates(PassMemory memory, float[] expected) =>
            BitAssert.Equal<float>(expected, PassMemory.Span<float>(memory.Estimates, expected.Length), $"{this}: estimates");

        public override string ToString() => $"{format} {update} on {(context is not null ? "CUDA" : accelerator is null ? "the CPU twin" : "ILGPU's CPU accelerator")}";

        // The values as the format stores them, widened back: what a pass reads.
        private float[] Quantized(float[] values) => format == GradientFormat.Float32 ? values : values.Select(v => Widen(Narrow(v))).ToArray();

        private void Store(nint address, float[] values)
        {
            if (format == GradientFormat.Float32) values.CopyTo(PassMemory.Span<float>(address, Length));
            else values.Select(Narrow).ToArray().CopyTo(PassMemory.Span<ushort>(address, Length));
        }

        private void AssertStored(nint address, float[] values, string what)
        {
            if (format == GradientFormat.Float32) BitAssert.Equal<float>(values, PassMemory.Span<float>(address, Length), what);
            else BitAssert.Equal<ushort>(values.Select(Narrow).ToArray(), PassMemory.Span<ushort>(address, Length), what);
        }

        private ushort Narrow(float value) => format == GradientFormat.BFloat16 ? BFloat16Format.Narrow(value) : Float16Format.Narrow(value);

        private float Widen(ushort bits) => format == GradientFormat.BFloat16 ? BFloat16Format.Widen(bits) : Float16Format.Widen(bits);
    }

    /// <summary>
    /// Runs a step as the filters do: on the host with constants from the host (covariance advanced there), or on CUDA
    /// with every stream mirrored in device memory and the constants derived on the device, the results copied back.
    /// </summary>
    private sealed unsafe class Runner<TSettings, TFilter> : IDisposable
        where TSettings : unmanaged, IFilterSettings<TSettings, TFilter>
        where TFilter : unmanaged, IFilterStep<TFilter>
    {
        private readonly PassMemory memory;
        private readonly IHostPass<TFilter>? host;
        private readonly CudaStepState? steps;
        private readonly ICudaPass<TSettings>? cuda;
        private readonly List<(nint Host, CudaDeviceMemory Device, long Bytes)> mirrors = [];
        private float covariance;

        public Runner(PassMemory memory, GradientFormat format, PassUpdate update, IlgpuAccelerator? accelerator, CudaPrimaryContext? context, float covariance)
        {
            this.memory = memory;
            this.covariance = covariance;
            if (context is null)
            {
                host = Passes.CreateHost<TFilter>(accelerator, format, update, memory.Buffers);
                return;
            }
            PassBuffers b = memory.Buffers;
            steps = new CudaStepState(context, 2);
            steps.WriteCovariances([covariance, covariance]);
            var device = new PassBuffers(Mirror(context, b.Gradients, Length * memory.ElementSize), Mirror(context, b.Estimates, b.Slots * Length * sizeof(float)),
                Mirror(context, b.Sums, Length * sizeof(double)), Mirror(context, b.Master, Length * sizeof(float)), Mirror(context, b.Parameters, Length * memory.ElementSize),
                Mirror(context, b.FirstMoments, Length * sizeof(float)), Mirror(context, b.SecondMoments, Length * sizeof(float)), Length, b.Slots);
            cuda = Passes.CreateCuda<TSettings, TFilter>(context, steps, format, update, device);
        }

        public void Step(TSettings settings, int step, AdamSettings adam)
        {
            if (host is not null)
            {
                var constants = new PassConstants<TFilter>(TSettings.At(settings, step, covariance), adam.At(step + 1));
                covariance = TSettings.NextCovariance(settings, covariance);
                host.Run(0, Split, constants);
                host.Run(Split, Length - Split, constants);
                return;
            }
            (nint gradients, CudaDeviceMemory device, long bytes) = mirrors[0];
            device.Write(new ReadOnlySpan<byte>((void*)gradients, (int)bytes));
            steps!.BeginStep();
            cuda!.Run(new DeviceRun(0, 0, 1, 0, Split), new PassSettings<TSettings>(settings, adam));
            cuda.Run(new DeviceRun(1, 1, 2, Split, Length - Split), new PassSettings<TSettings>(settings, adam));
            foreach ((nint address, CudaDeviceMemory copy, long length) in mirrors) copy.Read(new Span<byte>((void*)address, (int)length));
        }

        // A device copy of a host stream (none where the pass takes none); the gradients' is first.
        private nint Mirror(CudaPrimaryContext context, nint address, long bytes)
        {
            if (address == 0) return 0;
            var device = new CudaDeviceMemory(context, (bytes + 3) / 4, sizeof(int));
            mirrors.Add((address, device, bytes));
            device.Write(new ReadOnlySpan<byte>((void*)address, (int)bytes));
            return device.Address;
        }

        public void Dispose()
        {
            host?.Dispose();
            cuda?.Dispose();
            foreach ((_, CudaDeviceMemory device, _) in mirrors) device.Dispose();
            steps?.Dispose();
        }
    }
}
