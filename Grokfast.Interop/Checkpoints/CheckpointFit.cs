using Grokfast.Bridge;

namespace Grokfast.Checkpoints;

/// <summary>Whether a checkpoint fits the filter it is loaded into: each check throws <see cref="ArgumentException"/> naming the first misfit.</summary>
internal static class CheckpointFit
{
    /// <summary>The checkpoint holds the state of a filter of kind <paramref name="kind"/> with these hyperparameters.</summary>
    public static void CheckKind(GradientFilterState state, string kind, IReadOnlyDictionary<string, double> hyperparameters)
    {
        if (state.Kind != kind)
            throw new ArgumentException($"The checkpoint holds the state of a {state.Kind} filter; this is a {kind} filter.", nameof(state));
        foreach ((string name, double value) in hyperparameters)
        {
            if (!state.Hyperparameters.TryGetValue(name, out double saved))
                throw new ArgumentException($"The checkpoint records no {name}; this filter has {name} = {value}.", nameof(state));
            if (!saved.Equals(value))
                throw new ArgumentException($"The checkpoint was saved with {name} = {saved}; this filter has {name} = {value}.", nameof(state));
        }
    }

    /// <summary>The checkpoint is of the same model: the same parameters by name and shape, in the same order.</summary>
    public static void CheckParameters(GradientFilterState state, IReadOnlyList<TrainableParameter> parameters)
    {
        if (state.Parameters.Count != parameters.Count)
            throw new ArgumentException($"The checkpoint is for another model: {state.Parameters.Count} trainable parameters, where this filter's model has {parameters.Count}.", nameof(state));
        for (int i = 0; i < parameters.Count; i++)
        {
            var mine = new ParameterRecord(parameters[i].Name, parameters[i].Shape, 0);
            if (!state.Parameters[i].SameParameterAs(mine))
                throw new ArgumentException($"The checkpoint's parameter {i} is '{state.Parameters[i].Name}' [{string.Join(", ", state.Parameters[i].Shape)}]; " +
                    $"this filter's is '{mine.Name}' [{string.Join(", ", mine.Shape)}]: a checkpoint of another model.", nameof(state));
        }
    }

    /// <summary>The checkpoint holds each of <paramref name="buffers"/>, at its length.</summary>
    public static void CheckBuffers(GradientFilterState state, IEnumerable<StateBuffer> buffers)
    {
        foreach (StateBuffer buffer in buffers)
        {
            if (!state.BufferLengths.TryGetValue(buffer.Name, out long length) || length != buffer.Length)
                throw new ArgumentException($"The checkpoint's state buffer '{buffer.Name}' is missing or not {buffer.Length} bytes long.", nameof(state));
        }
    }
}
