using Grokfast.Kernels.Backends;

namespace Grokfast.Tests.Support;

/// <summary>Runs a gradient-and-state kernel and a scalar oracle side by side over many steps of fresh gradients.</summary>
internal static class KernelHarness
{
    public static void AssertMatchesOverSteps<TConstants>(IGradientStateKernel<TConstants> kernel, int length, int steps,
        Func<int, TConstants> constants, Action<float[]> oracleStep, double rtol)
        where TConstants : unmanaged
    {
        using var g = new NativeFloats(length);
        using var state = new NativeFloats(length);
        kernel.Bind(g.Address, state.Address, length);
        for (int step = 0; step < steps; step++)
        {
            float[] expected = Gradients.Random(length, seed: step);
            expected.CopyTo(g.Span);

            kernel.Filter(0, length, constants(step));
            oracleStep(expected);

            FloatAssert.Close(expected, g.Span, rtol, 1e-7, $"step {step}: ");
        }
    }
}
