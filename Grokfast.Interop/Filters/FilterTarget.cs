using Grokfast.Bridge;
using Grokfast.Kernels.Backends;
using TorchSharp.Modules;
using static TorchSharp.torch.nn;

namespace Grokfast.Filters;

/// <summary>
/// Which gradients a filter covers: a module's trainable parameters, a list of parameters, or the parameters of a fused
/// optimizer that runs the filter inside its own step.
/// </summary>
internal sealed class FilterTarget
{
    private readonly Func<KernelBackend, bool, GradientSteps> open;
    private readonly bool owned;

    private FilterTarget(Func<KernelBackend, bool, GradientSteps> open, bool owned)
    {
        this.open = open;
        this.owned = owned;
    }

    /// <summary>The trainable parameters of <paramref name="module"/>, by their names in it.</summary>
    public static FilterTarget Of(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        return new((backend, skip) => Open(new FlatGradientBuffer(module), backend, skip), owned: true);
    }

    /// <summary>
    /// <paramref name="parameters"/> (those that require grad), each named by its <c>name</c> or, without one, by its place:
    /// <c>params[i]</c>.
    /// </summary>
    public static FilterTarget Of(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return new((backend, skip) => Open(new FlatGradientBuffer([Named(parameters, "params")]), backend, skip), owned: true);
    }

    /// <summary>The steps of a fused optimizer, which owns them.</summary>
    public static FilterTarget Shared(GradientSteps steps) => new((_, _) => steps, owned: false);

    /// <summary>Each parameter with its <c>name</c>, or <paramref name="prefix"/>[i] where it has none.</summary>
    public static IReadOnlyList<(string Name, Parameter Parameter)> Named(IEnumerable<Parameter> parameters, string prefix) =>
        parameters.Select((p, i) => (p?.name ?? $"{prefix}[{i}]", p!)).ToList();

    /// <summary>The steps to run on, and whether the filter owns (and disposes) them.</summary>
    public (GradientSteps Steps, bool Owned) Open(KernelBackend backend, bool skipNonFinite) => (open(backend, skipNonFinite), owned);

    // The steps take the buffer, and dispose it if they fail.
    private static GradientSteps Open(FlatGradientBuffer gradients, KernelBackend backend, bool skipNonFinite) => new(gradients, backend, skipNonFinite);
}
