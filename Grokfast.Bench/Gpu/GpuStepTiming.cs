using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Bench.Gpu;

/// <summary>
/// Times a step queued on libtorch's stream with CUDA events, then a device-to-device copy of the bytes the step moves
/// (half read, half written), so every figure comes with its bandwidth limit measured beside it.
/// </summary>
internal static class GpuStepTiming
{
    private const int WarmUpSteps = 5;
    private const int TimedSteps = 50;

    /// <summary>
    /// <paramref name="step"/> over <paramref name="elements"/> elements of <paramref name="bytesPerElement"/> bytes each,
    /// with the result of its comparison (<paramref name="comparedSteps"/>, <paramref name="mismatches"/>) carried along.
    /// </summary>
    public static GpuFigures Measure(CudaPrimaryContext context, long elements, int bytesPerElement, Action step, int comparedSteps, long mismatches)
    {
        using var timer = new CudaEventTimer(context);
        long copyBytes = elements * bytesPerElement / 2;
        // The copy's buffers in whole floats, rounded up: an odd byte count (14 per element at an odd length) must fit.
        long copyFloats = (copyBytes + sizeof(float) - 1) / sizeof(float);
        using var source = new CudaDeviceMemory(context, copyFloats);
        using var target = new CudaDeviceMemory(context, copyFloats);
        for (int i = 0; i < WarmUpSteps; i++) step();
        double stepMs = timer.Measure(() =>
        {
            for (int i = 0; i < TimedSteps; i++) step();
        }) / TimedSteps;
        double copyMs = timer.Measure(() =>
        {
            for (int i = 0; i < TimedSteps; i++) timer.EnqueueCopy(target.Address, source.Address, copyBytes);
        }) / TimedSteps;
        double bytes = (double)elements * bytesPerElement;
        return new GpuFigures(comparedSteps, mismatches, stepMs, bytes / (stepMs * 1e6), copyMs, bytes / (copyMs * 1e6));
    }
}
