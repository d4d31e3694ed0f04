using Grokfast.Bridge;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;

namespace Grokfast.Optim;

// The per-parameter state TorchSharp's optimizers expose (state_dict().State, in parameter-group order), here as views of
// the flat buffers, so TorchSharp's state_dict, load_state_dict and save_state_dict work on the fused optimizers.
public abstract partial class FusedAdamOptimizer
{
    /// <summary>
    /// One parameter's state, as TorchSharp's <c>AdamW.State</c> is: Adam's step count and moments, the float32 master of a
    /// 16-bit parameter, and the Grokfast filter's part (its step count, its state tensors shaped like the parameter,
    /// the Kalman covariance). The tensors are views of the optimizer's flat buffers: reading them copies nothing, and
    /// writing them (or loading into them) changes the optimizer's state. They live until the optimizer is disposed or
    /// a parameter group is added (which lays the buffers out again and makes new states). With sharded state
    /// (<see cref="shard_over"/>) they are views of a snapshot gathered by <see cref="state_dict"/> instead: what is loaded
    /// into them reaches each rank's blocks before the next step, checkpoint or <c>state_dict()</c>.
    /// </summary>
    public sealed class ParameterState : OptimizerState, IDisposable
    {
        private readonly FusedAdamOptimizer owner;
        private readonly int index;
        private readonly List<(string Name, Tensor View)> grokfast;
        private readonly ShardedStateSnapshot? snapshot;

        internal ParameterState(FusedAdamOptimizer owner, TrainableParameter parameter, int index) : base(parameter.Parameter)
        {
            this.owner = owner;
            this.index = index;
            (exp_avg, exp_avg_sq, master_weight) = owner.core.ParameterViews(parameter);
            grokfast = owner.core.Filter is { } filter ? [.. filter.ParameterViews(parameter)] : [];
        }

        // Views of the whole buffers of a sharded state's snapshot, in the unsharded layout.
        internal ParameterState(FusedAdamOptimizer owner, TrainableParameter parameter, int index, ShardedStateSnapshot snapshot) : base(parameter.Parameter)
        {
            this.owner = owner;
            this.index = index;
            this.snapshot = snapshot;
            IReadOnlyDictionary<string, Tensor> wholes = snapshot.Wholes;
            IReadOnlyList<GradientGroup> layout = owner.core.Steps.Gradients.Groups;
            (exp_avg, exp_avg_sq, master_weight) = FusedAdamState.ParameterViews(parameter, wholes[nameof(FusedAdamState.exp_avg)],
                wholes[nameof(FusedAdamState.exp_avg_sq)], wholes.GetValueOrDefault(nameof(FusedAdamState.master_weights)), layout);
            grokfast = owner.core.Filter is { } filter ? [.. filter.ParameterViews(parameter, wholes, layout)] : [];
        }

        /// <summary>Adam's steps of this parameter (its bias corrections' t). On CUDA, reading it waits for the queued steps.</summary>
        public long step
        {
            get => owner.core.Steps.Book.CountsOf(index).Updated;
            set => owner.core.Steps.Book.SetCounts(index, grokfast_step, CheckCount(value, nameof(step)));
        }

        /// <summary>The filter's steps of this parameter (0 without a filter).</summary>
        public long grokfast_step
        {
            get => owner.core.Steps.Book.CountsOf(index).Filtered;
            set => owner.core.Steps.Book.SetCounts(index, CheckCount(value, nameof(grokfast_step)), step);
        }

        /// <summary>The first moment.</summary>
        public Tensor exp_avg { get; }

        /// <summary>The second moment.</summary>
        public Tensor exp_avg_sq { get; }

        /// <summary>The float32 master of a bfloat16 or float16 parameter with master weights on, else null.</summary>
        public Tensor? master_weight { get; }

        /// <summary>The filter's state tensors for this parameter by name (the EMA's <c>average</c>; <c>ring[s]</c> and <c>sums</c>; <c>estimates</c>).</summary>
        public IReadOnlyDictionary<string, Tensor> grokfast_state => grokfast.ToDictionary(v => v.Name, v => v.View);

        /// <summary>The Kalman filter's covariance of this parameter, or null for the other filters.</summary>
        public float? covariance
        {
            get
            {
                if (owner.core.Filter?.Covariances is not float[] covariances) return null;
                owner.core.Filter.BeforeStateSaved();
                return covariances[index];
            }
            set
            {
                if (owner.core.Filter?.Covariances is not float[] covariances)
                    throw new InvalidOperationException("Only a Kalman filter has a covariance.");
                if (value is not float p || !(p >= 0 && float.IsFinite(p)))
                    throw new ArgumentOutOfRangeException(nameof(covariance), value, $"Invalid covariance: {value}; it must be finite and >= 0.");
                owner.core.Filter.BeforeStateSaved();
                covariances[index] = p;
                owner.core.Filter.AfterStateLoaded();
            }
        }

        /// <summary>Writes the counts, then every tensor (TorchSharp's tensor format), then the covariance.</summary>
        public override void SaveStateDict(BinaryWriter writer)
        {
            ArgumentNullException.ThrowIfNull(writer);
            writer.Write(step);
            writer.Write(grokfast_step);
            foreach (Tensor tensor in Tensors()) Save(tensor, writer);
            writer.Write(covariance ?? float.NaN);
        }

        /// <summary>Reads what <see cref="SaveStateDict(BinaryWriter)"/> wrote, into the views.</summary>
        public override void LoadStateDict(BinaryReader reader)
        {
            ArgumentNullException.ThrowIfNull(reader);
            long steps = reader.ReadInt64(), filtered = reader.ReadInt64();
            foreach (Tensor tensor in Tensors())
            {
                using Tensor loaded = TensorExtensionMethods.Load(reader);
                CopyInto(tensor, loaded);
            }
            float p = reader.ReadSingle();
            owner.core.Steps.Book.SetCounts(index, CheckCount(filtered, nameof(grokfast_step)), CheckCount(steps, nameof(step)));
            if (!float.IsNaN(p)) covariance = p;
            snapshot?.Changed = true;
        }

        /// <summary>Copies another fused optimizer's state of a parameter of the same shape, with the same filter; anything else throws <see cref="ArgumentException"/> before a value changes.</summary>
        public override void LoadStateDict(OptimizerState source)
        {
            ParameterState other = CheckFits(source);
            (long steps, long filtered, float? p) = (other.step, other.grokfast_step, other.covariance);
            foreach ((Tensor mine, Tensor theirs) in Tensors().Zip(other.Tensors())) CopyInto(mine, theirs);
            owner.core.Steps.Book.SetCounts(index, filtered, steps);
            if (p is float value) covariance = value;
            snapshot?.Changed = true;
        }

        /// <summary><paramref name="source"/> as a state this one can take; throws <see cref="ArgumentException"/> naming what does not fit.</summary>
        internal ParameterState CheckFits(OptimizerState source)
        {
            if (source is not ParameterState other)
                throw new ArgumentException($"Expected a {typeof(ParameterState).FullName}, got {source?.GetType().FullName ?? "null"}.", nameof(source));
            if (other.grokfast.Count != grokfast.Count || other.grokfast.Zip(grokfast).Any(pair => pair.First.Name != pair.Second.Name)
                || (other.master_weight is null) != (master_weight is null) || (other.covariance is null) != (covariance is null))
                throw new ArgumentException("The state is of another filter, or of master weights where there are none (or the reverse).", nameof(source));
            foreach ((Tensor mine, Tensor theirs) in Tensors().Zip(other.Tensors()))
            {
                if (!mine.shape.SequenceEqual(theirs.shape))
                    throw new ArgumentException($"The state's tensors have shape [{string.Join(", ", theirs.shape)}]; this parameter's, [{string.Join(", ", mine.shape)}].", nameof(source));
            }
            return other;
        }

        /// <summary>Not supported: a fused optimizer's state starts with the optimizer (build a new one to start over).</summary>
        public override void Initialize(OptimizerOptions options) =>
            throw new NotSupportedException("A fused optimizer's per-parameter state starts with the optimizer; build a new optimizer to start over.");

        /// <summary>
        /// The state lives with the parameters, in the optimizer's flat buffers: <paramref name="device"/> must be theirs.
        /// To move, move the model, build a new optimizer and load a checkpoint (checkpoints do not depend on the device).
        /// </summary>
        public override void to(Device device)
        {
            ArgumentNullException.ThrowIfNull(device);
            if (device.type != exp_avg.device_type || (device.index >= 0 && device.index != exp_avg.device_index))
                throw new NotSupportedException($"The fused optimizer's state lives with its parameters on {exp_avg.device}; move the model, build a new optimizer and load a checkpoint into it.");
        }

        /// <summary>Whether <paramref name="other"/> is a state with the same counts and close tensors.</summary>
        public override bool ApproximatelyEquals(OptimizerState other) =>
            other is ParameterState state && state.step == step && state.grokfast_step == grokfast_step && state.covariance == covariance
            && state.Tensors().Count() == Tensors().Count() && Tensors().Zip(state.Tensors()).All(pair => pair.First.allclose(pair.Second));

        /// <summary>Releases the views (the state itself stays in the optimizer).</summary>
        public void Dispose()
        {
            exp_avg.Dispose();
            exp_avg_sq.Dispose();
            master_weight?.Dispose();
            foreach ((_, Tensor view) in grokfast) view.Dispose();
        }

        private IEnumerable<Tensor> Tensors()
        {
            yield return exp_avg;
            yield return exp_avg_sq;
            if (master_weight is not null) yield return master_weight;
            foreach ((_, Tensor view) in grokfast) yield return view;
        }

        // A view saved through a copy: TorchSharp's writer takes the tensor's own storage from its start.
        private static void Save(Tensor view, BinaryWriter writer)
        {
            using Tensor copy = view.clone();
            copy.Save(writer);
        }

        private static void CopyInto(Tensor view, Tensor source)
        {
            if (!view.shape.SequenceEqual(source.shape) || view.dtype != source.dtype)
                throw new ArgumentException($"A loaded state tensor is {source.dtype} [{string.Join(", ", source.shape)}]; this parameter's is {view.dtype} [{string.Join(", ", view.shape)}].", nameof(source));
            using (torch.no_grad()) view.copy_(source);
        }

        private static long CheckCount(long count, string name) => count >= 0 ? count
            : throw new ArgumentOutOfRangeException(name, count, $"Invalid {name}: {count}; a step count is >= 0.");
    }
}
