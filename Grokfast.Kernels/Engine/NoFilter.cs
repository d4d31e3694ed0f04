using System.Numerics;
using System.Runtime.CompilerServices;

namespace Grokfast.Kernels.Engine;

/// <summary>
/// No filter: the gradient passes through and no state is kept. A fused optimizer built without Grokfast runs Adam's step
/// through the same passes with it.
/// </summary>
internal readonly record struct NoFilter : IFilterStep<NoFilter>, IFilterSettings<NoFilter, NoFilter>
{
    public static bool KeepsEstimate => false;

    public static bool KeepsSum => false;

    public static bool ReadsEstimate(NoFilter constants) => false;

    public static bool ChangesGradient(NoFilter constants) => false;

    public static long EstimateOffset(NoFilter constants, long stride) => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FilteredElement Element(NoFilter constants, float g, float estimate, double sum) => new(g, 0, 0);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FilterLanes Broadcast(NoFilter constants) => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Lanes(NoFilter constants, in FilterLanes lanes, Vector<float> g, ref Vector<float> estimate, ref Vector<double> sumLow, ref Vector<double> sumHigh) => g;

    public static NoFilter At(NoFilter settings, long stepsBefore, float covariance) => default;

    public static float NextCovariance(NoFilter settings, float covariance) => covariance;

    public static int Slots(NoFilter settings) => 0;
}
