using Grokfast.Kernels.Distributed;

namespace Grokfast.Optim;

public abstract partial class FusedAdamOptimizer
{
    /// <summary>
    /// Data-parallel training: the communicator (e.g. <see cref="MpiCommunicator.World"/> under <c>mpirun</c>) across whose
    /// ranks each step first averages the gradients — one collective per flat buffer, before the guard, the clipping norm,
    /// the filter and Adam — so every rank takes the same step and keeps the same state; null (the default) for none. Each
    /// rank computes its gradients on its own part of the batch. The communicator stays yours to dispose.
    /// </summary>
    public ICommunicator? communicator
    {
        get => core.Steps.Communicator;
        set => core.Steps.Communicator = value;
    }
}
