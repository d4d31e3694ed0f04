using Grokfast.Kernels.Backends;
using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Distributed;

/// <summary>
/// Collectives on host buffers through Open MPI (<c>libmpi.so.40</c>: Debian's and Ubuntu's <c>openmpi-bin</c>), for
/// processes started by <c>mpirun</c>: a thin binding of the calls needed, loaded only when the world communicator is
/// first asked for, so a program that never goes distributed needs no MPI. (MPI.NET 1.4.0 on NuGet binds Microsoft MPI's
/// <c>msmpi.dll</c> and its integer handles; it cannot load Open MPI, whose handles are the addresses of exported objects.)
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>The library loaded unless another is named.</summary>
    public const string DefaultLibrary = "libmpi.so.40";

    // Open MPI's MPI_IN_PLACE.
    private static readonly void* InPlace = (void*)1;
    private static readonly Lock Gate = new();
    private static MpiCommunicator? world;

    private readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> allReduce;
    private readonly delegate* unmanaged<void*, void*, int*, nint, nint, nint, int> reduceScatter;
    private readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> allGatherV;
    private readonly delegate* unmanaged<int> finalize;
    private readonly delegate* unmanaged<nint*, int> freeOperation;
    private readonly nint communicator, float32, float64, sixteenBits, sum, max;
    // The 16-bit sums MPI has no operation for (HalfSum), made once MPI is initialized.
    private readonly nint bfloat16Sum, float16Sum;
    private readonly bool initializedHere;
    private bool disposed;

    private MpiCommunicator(string library, (int Rank, int WorldSize)? launched)
    {
        if (!NativeLibrary.TryLoad(library, out nint handle))
            throw new DllNotFoundException($"Could not load the MPI library '{library}'. Data-parallel training on the CPU needs Open MPI: apt-get install openmpi-bin, then start the ranks with mpirun.");
        nint Export(string name) => NativeLibrary.TryGetExport(handle, name, out nint address) ? address
            : throw new EntryPointNotFoundException($"'{library}' does not export {name}; Grokfast's MPI binding takes Open MPI (libmpi.so.40).");
        var initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        var init = (delegate* unmanaged<int*, byte***, int>)Export("MPI_Init");
        var rankOf = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        var sizeOf = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        allReduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        reduceScatter = (delegate* unmanaged<void*, void*, int*, nint, nint, nint, int>)Export("MPI_Reduce_scatter");
        allGatherV = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Export("MPI_Allgatherv");
        finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");
        var createOperation = (delegate* unmanaged<delegate* unmanaged<void*, void*, int*, nint*, void>, int, nint*, int>)Export("MPI_Op_create");
        freeOperation = (delegate* unmanaged<nint*, int>)Export("MPI_Op_free");
        (communicator, float32, float64, sixteenBits) = (Export("ompi_mpi_comm_world"), Export("ompi_mpi_float"), Export("ompi_mpi_double"), Export("ompi_mpi_uint16_t"));
        (sum, max) = (Export("ompi_mpi_op_sum"), Export("ompi_mpi_op_max"));
        int flag;
        Check(initialized(&flag), "MPI_Initialized");
        if (flag == 0)
        {
            Check(init(null, null), "MPI_Init");
            initializedHere = true;
        }
        nint operation;
        Check(createOperation(&HalfSum.BFloat16, 1, &operation), "MPI_Op_create");
        bfloat16Sum = operation;
        Check(createOperation(&HalfSum.Float16, 1, &operation), "MPI_Op_create");
        float16Sum = operation;
        int rank, size;
        Check(rankOf(communicator, &rank), "MPI_Comm_rank");
        Check(sizeOf(communicator, &size), "MPI_Comm_size");
        (Rank, WorldSize) = (rank, size);
        if (launched is { } expected && expected != (rank, size))
            throw new InvalidOperationException($"The launcher's environment says rank {expected.Rank} of {expected.WorldSize}; MPI says rank {rank} of {size}. Start every rank with the same mpirun.");
    }

    /// <summary>
    /// The communicator of every process <c>mpirun</c> started, MPI initialized on first use (one per process). The rank
    /// and world size in the launcher's environment are checked first (<see cref="LaunchEnvironment"/>); a missing library
    /// throws <see cref="DllNotFoundException"/> naming it.
    /// </summary>
    public static MpiCommunicator World(string library = DefaultLibrary)
    {
        ArgumentException.ThrowIfNullOrEmpty(library);
        lock (Gate)
        {
            if (world is { disposed: false }) return world;
            if (world is not null)
                throw new InvalidOperationException("MPI was finalized in this process (the world communicator was disposed), and MPI cannot start twice in a process.");
            (int Rank, int WorldSize)? launched = LaunchEnvironment.Read();
            world = new MpiCommunicator(library, launched);
            return world;
        }
    }

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int WorldSize { get; }

    /// <inheritdoc />
    public bool TakesDeviceMemory => false;

    /// <inheritdoc />
    public void AllReduceSum(nint buffer, long count, GradientFormat format)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ObjectDisposedException.ThrowIf(disposed, this);
        (nint type, nint add) = SumOf(format);
        int size = format.ElementSize();
        // MPI counts are ints: a larger buffer goes in pieces.
        for (long done = 0; done < count; done += int.MaxValue)
        {
            int piece = (int)Math.Min(int.MaxValue, count - done);
            Check(allReduce(InPlace, (byte*)buffer + done * size, piece, type, add, communicator), "MPI_Allreduce");
        }
    }

    /// <inheritdoc />
    public void ReduceScatterSum(nint send, nint receive, ReadOnlySpan<int> counts, GradientFormat format)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckCounts(counts);
        (nint type, nint add) = SumOf(format);
        fixed (int* c = counts) Check(reduceScatter((void*)send, (void*)receive, c, type, add, communicator), "MPI_Reduce_scatter");
    }

    /// <inheritdoc />
    public void AllGatherInPlace(nint buffer, ReadOnlySpan<int> counts, GradientFormat format)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckCounts(counts);
        nint type = TypeOf(format);
        Span<int> displacements = stackalloc int[counts.Length];
        long at = 0;
        for (int r = 0; r < counts.Length; r++)
        {
            displacements[r] = checked((int)at);
            at += counts[r];
        }
        fixed (int* c = counts, d = displacements)
            Check(allGatherV(InPlace, 0, type, (void*)buffer, c, d, type, communicator), "MPI_Allgatherv");
    }

    /// <inheritdoc />
    public double AllReduceSum(double value)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        double result;
        Check(allReduce(&value, &result, 1, float64, sum, communicator), "MPI_Allreduce");
        return result;
    }

    /// <inheritdoc />
    public double AllReduceMax(double value)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        double result;
        Check(allReduce(&value, &result, 1, float64, max, communicator), "MPI_Allreduce");
        return result;
    }

    /// <summary>Finalizes MPI (when this process initialized it); after that no communicator can be made in this process.</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (disposed) return;
            disposed = true;
            nint operation = bfloat16Sum;
            _ = freeOperation(&operation);
            operation = float16Sum;
            _ = freeOperation(&operation);
            if (initializedHere) _ = finalize();
        }
    }

    private nint TypeOf(GradientFormat format) => format switch
    {
        GradientFormat.Float32 => float32,
        GradientFormat.Float64 => float64,
        _ => sixteenBits,
    };

    // The element type MPI moves and the sum it applies: its own for float32 and float64, ours for the 16-bit formats.
    private (nint Type, nint Sum) SumOf(GradientFormat format) => format switch
    {
        GradientFormat.BFloat16 => (sixteenBits, bfloat16Sum),
        GradientFormat.Float16 => (sixteenBits, float16Sum),
        _ => (TypeOf(format), sum),
    };

    private void CheckCounts(ReadOnlySpan<int> counts)
    {
        if (counts.Length != WorldSize)
            throw new ArgumentException($"Expected one count per rank ({WorldSize}), got {counts.Length}.", nameof(counts));
        foreach (int count in counts) ArgumentOutOfRangeException.ThrowIfNegative(count, nameof(counts));
    }

    private static void Check(int result, string call)
    {
        if (result != 0) throw new InvalidOperationException($"{call} failed with MPI error {result}.");
    }
}
