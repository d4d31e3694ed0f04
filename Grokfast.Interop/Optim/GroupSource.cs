using Grokfast.Filters;
using TorchSharp.Modules;
using static TorchSharp.torch.nn;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

/// <summary>
/// A fused optimizer's parameter groups as its constructor was given them — a module, a list of parameters, or groups —
/// each parameter with the name messages and checkpoints give it.
/// </summary>
/// <param name="Groups">The groups, their parameters materialized once.</param>
/// <param name="Names">Per group, each parameter's name: its name in the module, its <c>name</c>, or <c>param_groups[g][i]</c>.</param>
/// <param name="Module">The module, when the parameters are its trainable ones.</param>
internal sealed record GroupSource(IReadOnlyList<FusedAdamOptimizer.ParamGroup> Groups, IReadOnlyList<IReadOnlyList<(string Name, Parameter Parameter)>> Names, Module? Module)
{
    /// <summary>The trainable parameters of <paramref name="module"/>, one group.</summary>
    public static GroupSource Of(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        List<(string, Parameter)> named = module.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        return new([new FusedAdamOptimizer.ParamGroup(named.Select(p => p.Item2).ToArray())], [named], module);
    }

    /// <summary><paramref name="parameters"/>, one group.</summary>
    public static GroupSource Of(IEnumerable<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return Of([new FusedAdamOptimizer.ParamGroup(parameters)]);
    }

    /// <summary><paramref name="groups"/> as they are (their options completed later from the optimizer's).</summary>
    public static GroupSource Of(IEnumerable<FusedAdamOptimizer.ParamGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        FusedAdamOptimizer.ParamGroup[] list = groups.ToArray();
        for (int g = 0; g < list.Length; g++)
        {
            ArgumentNullException.ThrowIfNull(list[g], $"{nameof(groups)}[{g}]");
            ArgumentNullException.ThrowIfNull(list[g].Parameters, $"{nameof(groups)}[{g}].Parameters");
            list[g].Parameters = list[g].Parameters.ToArray();
            list[g].Options ??= new FusedAdamOptimizer.Options();
        }
        return new(list, list.Select((group, g) => FilterTarget.Named(group.Parameters, $"param_groups[{g}]")).ToList(), null);
    }

    /// <summary>TorchSharp's AdamW groups, as fused groups with the same values (amsgrad and maximize refused).</summary>
    public static GroupSource Of(IEnumerable<AdamW.ParamGroup> groups) =>
        Of(groups, g => (g.Options.LearningRate, g.Options.beta1, g.Options.beta2, g.Options.eps, g.Options.weight_decay, g.Options.amsgrad, g.Options.maximize));

    /// <summary>TorchSharp's Adam groups, as fused groups with the same values (amsgrad and maximize refused).</summary>
    public static GroupSource Of(IEnumerable<Adam.ParamGroup> groups) =>
        Of(groups, g => (g.Options.LearningRate, g.Options.beta1, g.Options.beta2, g.Options.eps, g.Options.weight_decay, g.Options.amsgrad, g.Options.maximize));

    /// <summary>One group added after construction, as the constructors take groups; another kind of group is refused.</summary>
    public static FusedAdamOptimizer.ParamGroup Convert(TorchSharp.Modules.ParamGroup param_group, int index) => param_group switch
    {
        FusedAdamOptimizer.ParamGroup fused => Of([fused]).Groups[0],
        AdamW.ParamGroup adamw => Of([adamw]).Groups[0],
        Adam.ParamGroup adam => Of([adam]).Groups[0],
        _ => throw new ArgumentException($"param_groups[{index}] would be a {param_group.GetType().Name}; the fused optimizers take their own ParamGroup or TorchSharp's Adam/AdamW ParamGroup.", nameof(param_group)),
    };

    // TorchSharp's Adam or AdamW groups (options reads each one's options), as fused groups with the same values; amsgrad
    // and maximize, which the fused step does not do, are refused.
    private static GroupSource Of<TGroup>(IEnumerable<TGroup> groups, Func<TGroup, (double? Lr, double? Beta1, double? Beta2, double? Eps, double? WeightDecay, bool? Amsgrad, bool? Maximize)> options)
        where TGroup : TorchSharp.Modules.ParamGroup
    {
        ArgumentNullException.ThrowIfNull(groups);
        return Of(groups.Select((group, g) =>
        {
            ArgumentNullException.ThrowIfNull(group, $"{nameof(groups)}[{g}]");
            var (lr, beta1, beta2, eps, weightDecay, amsgrad, maximize) = group.Options is null ? default : options(group);
            if (amsgrad == true || maximize == true)
                throw new NotSupportedException($"Parameter group {g} asks for {(amsgrad == true ? "amsgrad" : "maximize")}, which the fused optimizers do not do.");
            return new FusedAdamOptimizer.ParamGroup(group.Parameters, lr, beta1, beta2, eps, weightDecay);
        }).ToArray());
    }
}
