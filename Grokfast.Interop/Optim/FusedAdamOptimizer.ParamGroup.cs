using Grokfast.Kernels.Adam;
using TorchSharp.Modules;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

// A fused optimizer's parameter groups and their options, as TorchSharp's optimizers nest theirs (AdamW.ParamGroup,
// AdamW.Options): what a learning-rate scheduler drives group by group; how a group is completed from the optimizer's
// options, checked, and turned into each step's settings.
public abstract partial class FusedAdamOptimizer
{
    /// <summary>
    /// One parameter group's hyperparameters. A value left null takes the optimizer's (the constructor's) when the group
    /// is added, as <c>torch.optim</c> fills a group from its defaults; each can be changed between steps.
    /// </summary>
    public sealed class Options : OptimizerOptions
    {
        /// <summary>Decay of the first moment, in [0, 1).</summary>
        public double? beta1 { get; set; }

        /// <summary>Decay of the second moment, in [0, 1).</summary>
        public double? beta2 { get; set; }

        /// <summary>Added to the denominator, finite and ≥ 0.</summary>
        public double? eps { get; set; }

        /// <summary>Weight decay, finite and ≥ 0: 0 for the group of biases, norms and embeddings in the usual AdamW recipe.</summary>
        public double? weight_decay { get; set; }

        /// <summary>The Grokfast filter's amplification for this group (null: the filter's own).</summary>
        public double? lamb { get; set; }

        /// <summary>Whether the Grokfast filter runs on this group (null: yes). A group that is off keeps its filter state untouched.</summary>
        public bool? grokfast { get; set; }

        /// <summary>Copies every option of <paramref name="source"/>, as TorchSharp's <c>load_state_dict</c> does.</summary>
        public override void LoadStateDict(OptimizerOptions source)
        {
            base.LoadStateDict(source);
            var options = (Options)source;
            (beta1, beta2, eps, weight_decay, lamb, grokfast) = (options.beta1, options.beta2, options.eps, options.weight_decay, options.lamb, options.grokfast);
        }

        /// <summary>Writes the options after the learning rates, as TorchSharp's optimizers do.</summary>
        public override void SaveStateDict(BinaryWriter writer)
        {
            base.SaveStateDict(writer);
            writer.Write(beta1!.Value);
            writer.Write(beta2!.Value);
            writer.Write(eps!.Value);
            writer.Write(weight_decay!.Value);
            writer.Write(lamb!.Value);
            writer.Write(grokfast!.Value);
        }

        /// <summary>Reads what <see cref="SaveStateDict"/> wrote.</summary>
        public override void LoadStateDict(BinaryReader reader)
        {
            base.LoadStateDict(reader);
            beta1 = reader.ReadDouble();
            beta2 = reader.ReadDouble();
            eps = reader.ReadDouble();
            weight_decay = reader.ReadDouble();
            lamb = reader.ReadDouble();
            grokfast = reader.ReadBoolean();
        }
    }

    /// <summary>A parameter group of a fused optimizer: its parameters and their <see cref="FusedAdamOptimizer.Options"/>.</summary>
    public sealed class ParamGroup : TorchSharp.Modules.ParamGroup<Options>, IBetas
    {
        /// <summary>An empty group, its parameters and options to be set.</summary>
        public ParamGroup()
        {
        }

        /// <summary>A group of <paramref name="parameters"/>; each option left null takes the optimizer's.</summary>
        public ParamGroup(IEnumerable<Parameter> parameters, double? lr = null, double? beta1 = null, double? beta2 = null, double? eps = null,
            double? weight_decay = null, double? lamb = null, bool? grokfast = null)
            : base(parameters, new Options { LearningRate = lr, beta1 = beta1, beta2 = beta2, eps = eps, weight_decay = weight_decay, lamb = lamb, grokfast = grokfast })
        {
        }

        /// <summary>The group's moment decays (what momentum-cycling schedulers set).</summary>
        public (double, double) Betas
        {
            get => (Options.beta1!.Value, Options.beta2!.Value);
            set => (Options.beta1, Options.beta2) = value;
        }
    }

    // Each group's settings for this step, checked (a scheduler or the user may have changed them), and whether its filter runs.
    private void PrepareGroups()
    {
        bool filterOn = core.Filter is not null && GrokfastEnabled && stepCalls >= grokfast_after_step;
        for (int g = 0; g < groups.Count; g++)
        {
            Options options = groups[g].Options;
            double rate = groups[g].LearningRate;
            if (!(rate >= 0 && double.IsFinite(rate)))
                throw new InvalidOperationException($"Invalid learning rate in param_groups[{g}]: {rate}; lr must be finite and >= 0 (it was set through the parameter group).");
            core.Pass.Settings[g] = new AdamSettings(rate, options.beta1!.Value, options.beta2!.Value, options.eps!.Value, options.weight_decay!.Value, decoupled);
            filtering[g] = filterOn && options.grokfast != false;
            lambs[g] = options.lamb ?? 0;
        }
    }

    // Fills what the group leaves null from the optimizer's options, checks every value, and (normalize_lr) scales its rate.
    private void Complete(ParamGroup group, int index, Options defaults)
    {
        Options options = group.Options;
        options.LearningRate ??= defaults.LearningRate;
        options.beta1 ??= defaults.beta1;
        options.beta2 ??= defaults.beta2;
        options.eps ??= defaults.eps;
        options.weight_decay ??= defaults.weight_decay;
        options.lamb ??= grokfast?.lamb ?? 0;
        options.grokfast ??= true;
        try
        {
            Validate(options);
        }
        catch (ArgumentOutOfRangeException error)
        {
            throw new ArgumentOutOfRangeException($"param_groups[{index}].{error.ParamName}", error.ActualValue, $"In param_groups[{index}]: {error.Message}");
        }
        if (normalize_lr && grokfast is not null && options.grokfast == true) options.LearningRate /= 1 + options.lamb.Value;
        options.InitialLearningRate = options.LearningRate!.Value;
    }

    private static void ValidateLearningRate(double lr, string name)
    {
        if (!(lr >= 0 && double.IsFinite(lr)))
            throw new ArgumentOutOfRangeException(name, lr, $"Invalid learning rate: {lr}; lr must be finite and >= 0.");
    }

    // Every option of a completed group (throws ArgumentOutOfRangeException naming the first out of range).
    private static void Validate(Options options)
    {
        Validate(options.LearningRate!.Value, options.beta1!.Value, options.beta2!.Value, options.eps!.Value, options.weight_decay!.Value);
        ValidateLamb(options.lamb!.Value);
    }

    private static void ValidateLamb(double lamb)
    {
        if (!double.IsFinite(lamb))
            throw new ArgumentOutOfRangeException(nameof(lamb), lamb, $"Invalid lamb: {lamb}; lamb must be finite.");
    }

    private static void Validate(double lr, double beta1, double beta2, double eps, double weight_decay)
    {
        ValidateLearningRate(lr, nameof(lr));
        if (!(beta1 >= 0 && beta1 < 1))
            throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"Invalid beta1: {beta1}; beta1 must be in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1))
            throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"Invalid beta2: {beta2}; beta2 must be in [0, 1).");
        if (!(eps >= 0 && double.IsFinite(eps)))
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"Invalid eps: {eps}; eps must be finite and >= 0.");
        if (!(weight_decay >= 0 && double.IsFinite(weight_decay)))
            throw new ArgumentOutOfRangeException(nameof(weight_decay), weight_decay, $"Invalid weight_decay: {weight_decay}; weight_decay must be finite and >= 0.");
    }
}
