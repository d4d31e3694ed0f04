using Grokfast.Kernels.Backends.Cuda;

namespace Grokfast.Filters;

/// <summary>What a step does with each run of parameters: a filter's pass, or a fused optimizer's (with or without its filter).</summary>
internal interface IRunStepper
{
    /// <summary>Whether the runs of gradient group <paramref name="group"/> are filtered this step (their steps filtered counted).</summary>
    bool Filters(int group);

    /// <summary>Whether every run is an optimizer's update (its steps updated counted).</summary>
    bool Updates { get; }

    /// <summary>Runs the pass over <paramref name="run"/> on the host, with constants from the host's counts.</summary>
    void Run(ParameterRun run);

    /// <summary>Queues the CUDA pass over <paramref name="run"/> of gradient group <paramref name="group"/>, its constants derived on the device.</summary>
    void Run(DeviceRun run, int group);
}
