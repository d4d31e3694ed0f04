using Grokfast.Bridge;
using Grokfast.Checkpoints;
using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Filters;

/// <summary>
/// A step's bookkeeping: which parameters form this step's runs, how often each has been filtered and (in a fused
/// optimizer) updated — two counts, since a filter can be off while the optimizer steps — and the steps taken and skipped. On the host the counts are the host's own; on CUDA they live on the device
/// (<see cref="CudaStepState"/>) and are read back only when asked, while the host keeps run keys — parameters known to
/// share a step count share a key — so runs are formed without waiting for the GPU.
/// </summary>
internal sealed class StepBook
{
    private readonly IReadOnlyList<TrainableParameter> parameters;
    private readonly IReadOnlyList<GradientGroup> groups;
    private readonly CudaStepState? device;
    private readonly long[] stepsFiltered;
    private readonly long[] updates;
    private readonly long[]? runKeys;
    private readonly List<ParameterRun> runs = [];
    private long stepCount;
    private long skippedStepCount;
    private bool lastStepSkipped;
    private long stepsQueued;
    private bool deviceCountsPending;

    /// <summary>Counts for <paramref name="parameters"/>, kept on <paramref name="device"/> when given, on the host otherwise.</summary>
    public StepBook(IReadOnlyList<TrainableParameter> parameters, IReadOnlyList<GradientGroup> groups, CudaStepState? device)
    {
        this.parameters = parameters;
        this.groups = groups;
        this.device = device;
        stepsFiltered = new long[parameters.Count];
        updates = new long[parameters.Count];
        if (device is not null) runKeys = new long[parameters.Count];
    }

    /// <summary>This step's runs, from the last <see cref="CollectRuns"/>.</summary>
    public IReadOnlyList<ParameterRun> Runs => runs;

    /// <summary>Parameters that had no gradient in the last step.</summary>
    public int SkippedParameterCount { get; private set; }

    /// <summary>Whether reading <see cref="Counts"/> waits for steps queued on CUDA.</summary>
    public bool CountsPending => deviceCountsPending;

    /// <summary>Steps taken, steps skipped, and whether the last was skipped; on CUDA read back (waiting for the queued steps) when stale.</summary>
    public (long StepCount, long SkippedStepCount, bool LastStepSkipped) Counts
    {
        get
        {
            ReadDeviceCounts();
            return (stepCount, skippedStepCount, lastStepSkipped);
        }
    }

    /// <summary>
    /// Splits the parameters that have a gradient into runs of consecutive ones of one group that have been filtered and
    /// updated equally often (equal run keys on CUDA), which share one set of step constants: one launch each, one per gradient
    /// format for the whole model in a normal loop.
    /// </summary>
    public void CollectRuns(bool[] hasGradient)
    {
        long[] keys = runKeys ?? stepsFiltered;
        runs.Clear();
        int skipped = 0;
        for (int first = 0; first < parameters.Count;)
        {
            if (!hasGradient[first])
            {
                skipped++;
                first++;
                continue;
            }
            int end = first + 1;
            int group = parameters[first].Group;
            while (end < parameters.Count && hasGradient[end] && parameters[end].Group == group && keys[end] == keys[first]
                && (runKeys is not null || updates[end] == updates[first])) end++;
            long offset = parameters[first].Offset;
            long length = parameters[end - 1].Offset + parameters[end - 1].Length - offset;
            runs.Add(new ParameterRun(first, end, group, offset - groups[group].Base, length, stepsFiltered[first], updates[first]));
            first = end;
        }
        SkippedParameterCount = skipped;
    }

    /// <summary>
    /// Records a host step: skipped whole, or every run's parameters filtered once more where <paramref name="stepper"/>
    /// filtered their group, and updated once more where it updates.
    /// </summary>
    public void RecordHostStep(bool skipped, IRunStepper stepper)
    {
        lastStepSkipped = skipped;
        if (skipped)
        {
            skippedStepCount++;
            return;
        }
        foreach (ParameterRun run in runs)
        {
            bool filtered = stepper.Filters(run.Group);
            for (int i = run.First; i < run.End; i++)
            {
                if (filtered) stepsFiltered[i]++;
                if (stepper.Updates) updates[i]++;
            }
        }
        stepCount++;
    }

    /// <summary>
    /// Records a step queued on CUDA. Parameters that shared a key share it afterwards only with those that did the same
    /// this step (had a gradient or not): equal keys still mean equal step counts, whether or not the step was skipped.
    /// </summary>
    public void RecordDeviceStep(bool[] hasGradient)
    {
        stepsQueued++;
        deviceCountsPending = true;
        if (SkippedParameterCount == 0) return;
        var renumbered = new Dictionary<(long, bool), long>();
        for (int i = 0; i < runKeys!.Length; i++)
        {
            (long, bool) key = (runKeys[i], hasGradient[i]);
            if (!renumbered.TryGetValue(key, out long next)) renumbered[key] = next = renumbered.Count;
            runKeys[i] = next;
        }
    }

    /// <summary>Each parameter's record for a checkpoint: its name, shape and steps filtered.</summary>
    public List<ParameterRecord> ParameterRecords()
    {
        ReadDeviceCounts();
        return parameters.Select((p, i) => new ParameterRecord(p.Name, p.Shape, stepsFiltered[i])).ToList();
    }

    /// <summary>Each parameter's optimizer steps, for a checkpoint (current once <see cref="ParameterRecords"/> has read them back).</summary>
    public long[] Updates => updates;

    /// <summary>
    /// Takes the step counts from a checkpoint whose buffers have just been loaded (the queued steps done; a fused
    /// optimizer's <see cref="Updates"/> among them).
    /// </summary>
    public void Restore(GradientFilterState state)
    {
        for (int i = 0; i < stepsFiltered.Length; i++) stepsFiltered[i] = state.Parameters[i].StepsFiltered;
        stepCount = state.StepCount;
        if (device is null) return;
        device.WriteSteps(stepsFiltered);
        device.WriteUpdates(updates);
        SetRunKeys();
        stepsQueued = stepCount + skippedStepCount;
    }

    /// <summary>Parameter <paramref name="parameter"/>'s steps filtered and updated; on CUDA read back (waiting for the queued steps) when stale.</summary>
    public (long Filtered, long Updated) CountsOf(int parameter)
    {
        ReadDeviceCounts();
        return (stepsFiltered[parameter], updates[parameter]);
    }

    /// <summary>Sets parameter <paramref name="parameter"/>'s counts (a per-parameter state loaded), on the device too.</summary>
    public void SetCounts(int parameter, long filtered, long updated)
    {
        ReadDeviceCounts();
        (stepsFiltered[parameter], updates[parameter]) = (filtered, updated);
        if (device is null) return;
        device.WriteSteps(stepsFiltered);
        device.WriteUpdates(updates);
        SetRunKeys();
    }

    /// <summary>
    /// Takes the counts of <paramref name="before"/>, the book of this one's first parameters before a parameter group was
    /// appended: theirs carry over, the new parameters' start at zero.
    /// </summary>
    public void ContinueFrom(StepBook before)
    {
        before.ReadDeviceCounts();
        before.stepsFiltered.CopyTo(stepsFiltered, 0);
        before.updates.CopyTo(updates, 0);
        (stepCount, skippedStepCount, lastStepSkipped) = (before.stepCount, before.skippedStepCount, before.lastStepSkipped);
        if (device is null) return;
        device.WriteSteps(stepsFiltered);
        device.WriteUpdates(updates);
        device.WriteOutcome(skippedStepCount);
        SetRunKeys();
        stepsQueued = stepCount + skippedStepCount;
    }

    // On CUDA, when a step has been queued since the counts were last read: waits for it, then reads them.
    private void ReadDeviceCounts()
    {
        if (!deviceCountsPending) return;
        (skippedStepCount, lastStepSkipped) = device!.ReadOutcome();
        stepCount = stepsQueued - skippedStepCount;
        device.ReadSteps(stepsFiltered);
        device.ReadUpdates(updates);
        SetRunKeys();
        deviceCountsPending = false;
    }

    // Equal counts are equal keys: runs merge again where histories converged.
    private void SetRunKeys()
    {
        var numbered = new Dictionary<(long, long), long>();
        for (int i = 0; i < runKeys!.Length; i++)
        {
            (long, long) counts = (stepsFiltered[i], updates[i]);
            if (!numbered.TryGetValue(counts, out long key)) numbered[counts] = key = numbered.Count;
            runKeys[i] = key;
        }
    }
}
