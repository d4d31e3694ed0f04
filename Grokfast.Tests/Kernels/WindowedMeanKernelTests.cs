using System.Runtime.InteropServices;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Engine;
using Grokfast.Kernels.WindowedMean;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Kernels;

public sealed class WindowedMeanKernelTests
{
    private const float Lamb = 5f;

    public static TheoryData<bool, bool, bool> EveryOption()
    {
        var data = new TheoryData<bool, bool, bool>();
        foreach (bool mean in new[] { true, false })
            foreach (bool warmup in new[] { true, false })
                foreach (bool trigger in new[] { true, false })
                    data.Add(mean, warmup, trigger);
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryOption))]
    public void CpuTwin_EveryOption_MatchesResummingLoop(bool mean, bool warmup, bool trigger)
    {
        AssertMatchesResummingLoop(Twin, length: 1023, windowSize: 7, steps: 30, mean, warmup, trigger);
    }

    [Theory]
    [MemberData(nameof(EveryOption))]
    public void IlgpuKernelOnCpuAccelerator_EveryOption_MatchesResummingLoop(bool mean, bool warmup, bool trigger)
    {
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        AssertMatchesResummingLoop(buffers => Passes.CreateHost<WindowedMeanConstants>(accelerator, GradientFormat.Float32, PassUpdate.WriteBack, buffers), length: 517, windowSize: 7, steps: 30, mean, warmup, trigger);
    }

    [Theory]
    [MemberData(nameof(EveryOption))]
    public void CpuTwinAndIlgpuKernel_EveryOption_AgreeBitForBit(bool mean, bool warmup, bool trigger)
    {
        const int length = 1031;
        const int windowSize = 7;
        using IlgpuAccelerator accelerator = IlgpuAccelerator.CreateCpu();
        using var ilgpuBuffers = new WindowedMeanBuffers(length, windowSize);
        using var twinBuffers = new WindowedMeanBuffers(length, windowSize);
        using IHostPass<WindowedMeanConstants> ilgpu = Passes.CreateHost<WindowedMeanConstants>(accelerator, GradientFormat.Float32, PassUpdate.WriteBack, ilgpuBuffers.Buffers);
        using IHostPass<WindowedMeanConstants> twin = Twin(twinBuffers.Buffers);
        for (int step = 0; step < 3 * windowSize; step++)
        {
            float[] gradient = Gradients.Random(length, seed: step);
            var constants = new PassConstants<WindowedMeanConstants>(WindowedMeanConstants.For(step, windowSize, mean, Lamb, warmup, trigger), default);
            gradient.CopyTo(ilgpuBuffers.Gradients.Span);
            gradient.CopyTo(twinBuffers.Gradients.Span);

            ilgpu.Run(0, length, constants);
            twin.Run(0, length, constants);

            FloatAssert.Close(twinBuffers.Gradients.Span, ilgpuBuffers.Gradients.Span, 0, 0, $"step {step}, gradients: ");
            Assert.True(MemoryMarshal.Cast<float, long>(twinBuffers.Sums.Span).SequenceEqual(MemoryMarshal.Cast<float, long>(ilgpuBuffers.Sums.Span)),
                $"step {step}: the running sums differ");
        }
    }

    [Theory]
    [InlineData(1, 20, true)]
    [InlineData(1, 20, false)]
    [InlineData(50, 20, true)]
    [InlineData(50, 20, false)]
    [InlineData(128, 300, true)]
    public void CpuTwin_WindowOfOneOrLongerThanTheTrace_MatchesResummingLoop(int windowSize, int steps, bool warmup)
    {
        AssertMatchesResummingLoop(Twin, length: (1 << 16) + 3, windowSize, steps, mean: true, warmup, trigger: false);
    }

    [Fact]
    public void RunningSum_After100000Steps_StaysWithin1e5OfTheExactWindowSum()
    {
        const int length = 19;
        const int windowSize = 100;
        const int steps = 100_000;
        using var g = new NativeFloats(length);
        using var ring = new NativeFloats(length * windowSize);
        double[] sums = new double[length];
        // The oracle: the last window_size gradients, kept here, summed exactly (in float64, from scratch) at the end.
        var window = new Queue<float[]>();
        var random = new Random(3);
        unsafe
        {
            fixed (double* sumPointer = sums)
            {
                using IHostPass<WindowedMeanConstants> kernel = Twin(PassBuffers.Filter(g.Address, ring.Address, (nint)sumPointer, length, windowSize));
                for (int step = 0; step < steps; step++)
                {
                    // Large offset, wide noise: a float32 running sum would wander off by more than the bound here.
                    for (int i = 0; i < length; i++) g.Span[i] = (float)(100 + 50 * (random.NextDouble() - 0.5) * (1 + i));
                    window.Enqueue(g.Span.ToArray());
                    if (window.Count > windowSize) window.Dequeue();
                    kernel.Run(0, length, new(WindowedMeanConstants.For(step, windowSize, mean: true, Lamb, warmup: true, trigger: false), default));
                }
            }
        }
        for (int i = 0; i < length; i++)
        {
            double exact = window.Sum(gradient => (double)gradient[i]);
            Assert.True(Math.Abs(sums[i] - exact) <= 1e-5 * Math.Abs(exact), $"element {i}: running {sums[i]:R}, exact {exact:R}");
        }
    }

    [Fact]
    public void Constants_FollowTheReferenceRuleForApplyingAndScaling()
    {
        // warmup: nothing until the window is full, then the mean over the whole window.
        Assert.Equal(0, WindowedMeanConstants.For(3, 5, mean: true, 1, warmup: true, trigger: false).Apply);
        Assert.Equal(new WindowedMeanConstants(4, 0.2, 1f, 1), WindowedMeanConstants.For(4, 5, mean: true, 1, warmup: true, trigger: false));
        // no warmup: applies from the first step, dividing by the gradients held so far; trigger is then ignored.
        Assert.Equal(new WindowedMeanConstants(1, 0.5, 1f, 1), WindowedMeanConstants.For(1, 5, mean: true, 1, warmup: false, trigger: true));
        // trigger with warmup: never applies.
        Assert.Equal(0, WindowedMeanConstants.For(99, 5, mean: true, 1, warmup: true, trigger: true).Apply);
        // sum does not divide; the ring slot wraps around.
        Assert.Equal(new WindowedMeanConstants(2, 1.0, 1f, 1), WindowedMeanConstants.For(12, 5, mean: false, 1, warmup: true, trigger: false));
    }

    private static IHostPass<WindowedMeanConstants> Twin(PassBuffers buffers) =>
        Passes.CreateHost<WindowedMeanConstants>(null, GradientFormat.Float32, PassUpdate.WriteBack, buffers);

    private static void AssertMatchesResummingLoop(Func<PassBuffers, IHostPass<WindowedMeanConstants>> create, int length, int windowSize, int steps, bool mean, bool warmup, bool trigger)
    {
        using var g = new NativeFloats(length);
        using var ring = new NativeFloats(length * windowSize);
        double[] sums = new double[length];
        var oracle = new ScalarWindowedMean(windowSize, Lamb, mean, warmup, trigger);
        unsafe
        {
            fixed (double* sumPointer = sums)
            {
                using IHostPass<WindowedMeanConstants> kernel = create(PassBuffers.Filter(g.Address, ring.Address, (nint)sumPointer, length, windowSize));
                for (int step = 0; step < steps; step++)
                {
                    float[] expected = Gradients.Random(length, seed: step);
                    expected.CopyTo(g.Span);

                    kernel.Run(0, length, new(WindowedMeanConstants.For(step, windowSize, mean, Lamb, warmup, trigger), default));
                    oracle.Step(expected);

                    // The oracle re-sums in float32 like the reference; the kernel's float64 sum is closer to exact.
                    FloatAssert.Close(expected, g.Span, 1e-5, 1e-5, $"step {step}: ");
                }
            }
        }
    }

    /// <summary>A windowed-mean pass's gradients, ring and running sums in native memory.</summary>
    private sealed class WindowedMeanBuffers : IDisposable
    {
        public WindowedMeanBuffers(int length, int windowSize)
        {
            Gradients = new NativeFloats(length);
            Ring = new NativeFloats(length * windowSize);
            Sums = new NativeFloats(2 * length);
            Buffers = PassBuffers.Filter(Gradients.Address, Ring.Address, Sums.Address, length, windowSize);
        }

        public PassBuffers Buffers { get; }

        public NativeFloats Gradients { get; }

        public NativeFloats Ring { get; }

        /// <summary>The float64 sums, in memory held as float pairs.</summary>
        public NativeFloats Sums { get; }

        public void Dispose()
        {
            Gradients.Dispose();
            Ring.Dispose();
            Sums.Dispose();
        }
    }
}
