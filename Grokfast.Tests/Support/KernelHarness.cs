using Grokfast.Kernels.Backends;

namespace Grokfast.Tests.Support;

/// <summary>Runs gradient-and-state kernels and a scalar oracle side by side over many steps of fresh gradients.</summary>
internal static class KernelHarness
{
    /// <summary>
    /// Feeds every kernel and <paramref name="oracle"/> the same gradients for <paramref name="steps"/> steps and
    /// requires their gradients and states to be bit-identical after each one: every version computes the same
    /// IEEE operations in the same order.
    /// </summary>
    /// <param name="gradients">The gradient of a step from its index, its constants and the oracle's state before it.</param>
    public static void AssertBitIdenticalOverSteps<TConstants>(IReadOnlyList<IGradientStateKernel<TConstants>> kernels, int length, int steps,
        Func<int, TConstants> constants, IScalarFilter oracle, Func<int, TConstants, float[], float[]> gradients)
        where TConstants : unmanaged
    {
        var buffers = kernels.Select(_ => (G: new NativeFloats(length), State: new NativeFloats(length))).ToList();
        try
        {
            for (int k = 0; k < kernels.Count; k++) kernels[k].Bind(buffers[k].G.Address, buffers[k].State.Address, length);
            for (int step = 0; step < steps; step++)
            {
                TConstants stepConstants = constants(step);
                float[] expected = gradients(step, stepConstants, oracle.State);
                for (int k = 0; k < kernels.Count; k++)
                {
                    expected.CopyTo(buffers[k].G.Span);
                    kernels[k].Filter(0, length, stepConstants);
                }
                oracle.Step(expected);

                for (int k = 0; k < kernels.Count; k++)
                {
                    FloatAssert.Close(expected, buffers[k].G.Span, 0, 0, $"{kernels[k].GetType().Name}, step {step}, gradients: ");
                    FloatAssert.Close(oracle.State, buffers[k].State.Span, 0, 0, $"{kernels[k].GetType().Name}, step {step}, state: ");
                }
            }
        }
        finally
        {
            foreach ((NativeFloats g, NativeFloats state) in buffers)
            {
                g.Dispose();
                state.Dispose();
            }
        }
    }

    /// <summary>Fixed-seed gradients that ignore the filter's state (<see cref="Gradients.Random"/>).</summary>
    public static float[] RandomGradients<TConstants>(int step, TConstants constants, float[] state) => Gradients.Random(state.Length, seed: step);
}
