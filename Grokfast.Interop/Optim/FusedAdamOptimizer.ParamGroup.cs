using TorchSharp.Modules;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

// A fused optimizer's parameter groups and their options, as TorchSharp's optimizers nest theirs (AdamW.ParamGroup,
// AdamW.Options): what a learning-rate scheduler drives group by group.
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
}
