using Grokfast.Kernels.Distributed;
using TorchSharp;

namespace Grokfast.Bench.Grokking;

/// <summary>
/// A rank's communicator and device for a data-parallel run: MPI on the CPU; on CUDA, NCCL on the rank's own GPU (its
/// local rank), its id carried by MPI under mpirun, or NCCL's own rendezvous (<c>NCCL_COMM_ID</c>) under torchrun.
/// </summary>
internal sealed class DataParallelRanks : IDisposable
{
    private readonly MpiCommunicator? mpi;

    private DataParallelRanks(ICommunicator communicator, torch.Device device, MpiCommunicator? mpi)
    {
        Communicator = communicator;
        Device = device;
        this.mpi = mpi;
    }

    /// <summary>The communicator the optimizer averages over.</summary>
    public ICommunicator Communicator { get; }

    /// <summary>Where this rank trains.</summary>
    public torch.Device Device { get; }

    /// <summary>Starts this rank's communication, on its GPU when <paramref name="cuda"/>.</summary>
    public static DataParallelRanks Start(bool cuda)
    {
        if (!cuda)
        {
            MpiCommunicator world = MpiCommunicator.World();
            return new DataParallelRanks(world, torch.CPU, world);
        }
        bool underMpirun = Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK") is not null;
        MpiCommunicator? bootstrap = underMpirun ? MpiCommunicator.World() : null;
        int gpu = LaunchEnvironment.LocalRank();
        try
        {
            return new DataParallelRanks(NcclCommunicator.Create(gpu, bootstrap), new torch.Device(DeviceType.CUDA, gpu), bootstrap);
        }
        catch
        {
            bootstrap?.Dispose();
            throw;
        }
    }

    /// <summary>Ends NCCL, then MPI.</summary>
    public void Dispose()
    {
        if (!ReferenceEquals(Communicator, mpi)) Communicator.Dispose();
        mpi?.Dispose();
    }
}
