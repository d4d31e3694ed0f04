using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using System.Runtime.InteropServices;

namespace Grokfast.Kernels.Distributed;

/// <summary>
/// Collectives on CUDA buffers through NCCL (<c>libnccl.so.2</c>, which ships with PyTorch's CUDA wheels and NVIDIA's
/// packages), queued on libtorch's stream — the legacy default stream, where the fused passes run too — so a step never
/// waits for them on the host. A thin binding of the calls needed, loaded only when a communicator is made. Every format
/// is NCCL's own type (float32, float64, float16, bfloat16). Blocks of unequal length — ZeRO-1's last elements — go as
/// one grouped <c>ncclReduce</c> or <c>ncclBroadcast</c> per rank, NCCL's way to reduce-scatter and all-gather them.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    /// <summary>The library loaded unless another is named.</summary>
    public const string DefaultLibrary = "libnccl.so.2";

    private const int UniqueIdBytes = 128;
    private const int Sum = 0, Max = 2;
    private static readonly nint Stream = CudaDriver.LegacyDefaultStream;

    private readonly CudaPrimaryContext context;
    private readonly CudaDeviceMemory scalar;
    private readonly nint communicator;
    private readonly delegate* unmanaged<void*, void*, nuint, int, int, nint, nint, int> allReduce;
    private readonly delegate* unmanaged<void*, void*, nuint, int, int, int, nint, nint, int> reduce;
    private readonly delegate* unmanaged<void*, void*, nuint, int, int, nint, nint, int> broadcast;
    private readonly delegate* unmanaged<int> groupStart, groupEnd;
    private readonly delegate* unmanaged<nint, int> destroy;
    private readonly delegate* unmanaged<int, byte*> errorString;
    private bool disposed;

    [StructLayout(LayoutKind.Sequential, Size = UniqueIdBytes)]
    private struct UniqueId
    {
        private byte first;
    }

    private NcclCommunicator(string library, int device, int rank, int worldSize, ICommunicator? bootstrap)
    {
        if (!NativeLibrary.TryLoad(library, out nint handle))
            throw new DllNotFoundException($"Could not load the NCCL library '{library}'. Data-parallel training on CUDA needs NCCL: it ships with PyTorch's CUDA wheels (<site-packages>/nvidia/nccl/lib) and NVIDIA's libnccl2 package; put its folder on LD_LIBRARY_PATH or name the file.");
        nint Export(string name) => NativeLibrary.TryGetExport(handle, name, out nint address) ? address
            : throw new EntryPointNotFoundException($"'{library}' does not export {name}: Grokfast's NCCL binding needs NCCL 2.10 or later.");
        errorString = (delegate* unmanaged<int, byte*>)Export("ncclGetErrorString");
        var getUniqueId = (delegate* unmanaged<UniqueId*, int>)Export("ncclGetUniqueId");
        var initRank = (delegate* unmanaged<nint*, int, UniqueId, int, int>)Export("ncclCommInitRank");
        allReduce = (delegate* unmanaged<void*, void*, nuint, int, int, nint, nint, int>)Export("ncclAllReduce");
        reduce = (delegate* unmanaged<void*, void*, nuint, int, int, int, nint, nint, int>)Export("ncclReduce");
        broadcast = (delegate* unmanaged<void*, void*, nuint, int, int, nint, nint, int>)Export("ncclBroadcast");
        groupStart = (delegate* unmanaged<int>)Export("ncclGroupStart");
        groupEnd = (delegate* unmanaged<int>)Export("ncclGroupEnd");
        destroy = (delegate* unmanaged<nint, int>)Export("ncclCommDestroy");
        (Rank, WorldSize) = (rank, worldSize);
        context = CudaPrimaryContext.Open(device);
        try
        {
            scalar = new CudaDeviceMemory(context, 1, sizeof(double));
            UniqueId id = default;
            // NCCL's runtime takes the device from the context current on this thread.
            using (context.MakeCurrent())
            {
                // Rank 0 makes the id and the bootstrap carries it to the others; with NCCL_COMM_ID (or one rank) every
                // rank makes the same id itself.
                if (bootstrap is null || rank == 0) Check(getUniqueId(&id), "ncclGetUniqueId");
                if (bootstrap is not null) ShareFromRankZero(bootstrap, &id);
                nint made;
                Check(initRank(&made, worldSize, id, rank), "ncclCommInitRank");
                communicator = made;
            }
        }
        catch
        {
            scalar?.Dispose();
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The communicator of every rank a launcher started, on CUDA device <paramref name="device"/> (the rank's GPU: under
    /// <c>torchrun</c> its <c>LOCAL_RANK</c>). Rank and world size: <paramref name="bootstrap"/>'s when given (e.g.
    /// <see cref="MpiCommunicator.World"/> under <c>mpirun</c>, which also carries NCCL's id from rank 0 to the others),
    /// else the launcher's environment (<see cref="LaunchEnvironment"/>), where more than one rank needs NCCL's own
    /// rendezvous, hosted by rank 0: <c>NCCL_COMM_ID=host:port</c>, or <c>torchrun</c>'s <c>MASTER_ADDR</c> with the port
    /// after its <c>MASTER_PORT</c>; else a world of one. A missing library throws <see cref="DllNotFoundException"/>
    /// naming it.
    /// </summary>
    public static NcclCommunicator Create(int device, ICommunicator? bootstrap = null, string library = DefaultLibrary) =>
        Create(device, bootstrap, library, environment: null);

    internal static NcclCommunicator Create(int device, ICommunicator? bootstrap, string library, IReadOnlyDictionary<string, string?>? environment)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(device);
        ArgumentException.ThrowIfNullOrEmpty(library);
        if (bootstrap is { TakesDeviceMemory: true })
            throw new ArgumentException("The bootstrap carries NCCL's id in host memory: give an MPI communicator.", nameof(bootstrap));
        (int rank, int worldSize) = bootstrap is null ? LaunchEnvironment.Read(environment) ?? (0, 1) : (bootstrap.Rank, bootstrap.WorldSize);
        if (bootstrap is null && worldSize > 1)
        {
            string rendezvous = NcclRendezvous.Address(environment)
                ?? throw new InvalidOperationException($"{worldSize} ranks need a rendezvous for NCCL: set {NcclRendezvous.Variable}=host:port (a free port on rank 0's host) or MASTER_ADDR and MASTER_PORT (as torchrun does) on every rank, or start the ranks with mpirun and pass MpiCommunicator.World() as the bootstrap.");
            if (environment is null) NcclRendezvous.Publish(rendezvous);
        }
        return new NcclCommunicator(library, device, rank, worldSize, bootstrap);
    }

    /// <inheritdoc />
    public int Rank { get; }

    /// <inheritdoc />
    public int WorldSize { get; }

    /// <inheritdoc />
    public bool TakesDeviceMemory => true;

    /// <inheritdoc />
    public void AllReduceSum(nint buffer, long count, GradientFormat format)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ObjectDisposedException.ThrowIf(disposed, this);
        using (context.MakeCurrent())
            Check(allReduce((void*)buffer, (void*)buffer, (nuint)count, TypeOf(format), Sum, communicator, Stream), "ncclAllReduce");
    }

    /// <inheritdoc />
    public void ReduceScatterSum(nint send, nint receive, ReadOnlySpan<int> counts, GradientFormat format)
    {
        int type = TypeOf(format);
        // Rank r receives the sum of everyone's block r; the receive buffer is read on rank r only.
        PerBlock(counts, format, "ncclReduce", (r, offset, count) =>
            reduce((byte*)send + offset, (void*)receive, (nuint)count, type, Sum, r, communicator, Stream));
    }

    /// <inheritdoc />
    public void AllGatherInPlace(nint buffer, ReadOnlySpan<int> counts, GradientFormat format)
    {
        int type = TypeOf(format);
        PerBlock(counts, format, "ncclBroadcast", (r, offset, count) =>
            broadcast((byte*)buffer + offset, (byte*)buffer + offset, (nuint)count, type, r, communicator, Stream));
    }

    /// <inheritdoc />
    public double AllReduceSum(double value) => AllReduce(value, Sum);

    /// <inheritdoc />
    public double AllReduceMax(double value) => AllReduce(value, Max);

    /// <summary>Destroys the NCCL communicator and frees its scratch. Never throws.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        using (context.MakeCurrent()) _ = destroy(communicator);
        scalar.Dispose();
        context.Dispose();
    }

    // A scalar through a device word: the copy back waits for the stream, as the caller needs the value now.
    private double AllReduce(double value, int operation)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        scalar.Write<double>([value]);
        using (context.MakeCurrent())
            Check(allReduce((void*)scalar.Address, (void*)scalar.Address, 1, TypeOf(GradientFormat.Float64), operation, communicator, Stream), "ncclAllReduce");
        Span<double> result = stackalloc double[1];
        scalar.Read(result);
        return result[0];
    }

    // Rank 0's id to every rank: an all-gather in which only rank 0's block has any elements.
    private static void ShareFromRankZero(ICommunicator bootstrap, UniqueId* id)
    {
        const int Words = UniqueIdBytes / sizeof(ushort);
        Span<int> counts = stackalloc int[bootstrap.WorldSize];
        counts[0] = Words;
        bootstrap.AllGatherInPlace((nint)id, counts, GradientFormat.BFloat16);
    }

    // One call per rank's block (given the rank, the block's byte offset and its length), grouped so that NCCL runs
    // them as one collective.
    private void PerBlock(ReadOnlySpan<int> counts, GradientFormat format, string call, Func<int, long, int, int> block)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        CheckCounts(counts);
        int size = format.ElementSize();
        using (context.MakeCurrent())
        {
            Check(groupStart(), "ncclGroupStart");
            long at = 0;
            int failed = 0;
            for (int r = 0; r < counts.Length && failed == 0; r++)
            {
                failed = block(r, at * size, counts[r]);
                at += counts[r];
            }
            int ended = groupEnd();
            Check(failed, call);
            Check(ended, "ncclGroupEnd");
        }
    }

    // ncclDataType_t.
    private static int TypeOf(GradientFormat format) => format switch
    {
        GradientFormat.Float16 => 6,
        GradientFormat.Float32 => 7,
        GradientFormat.Float64 => 8,
        GradientFormat.BFloat16 => 9,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown format."),
    };

    private void CheckCounts(ReadOnlySpan<int> counts)
    {
        if (counts.Length != WorldSize)
            throw new ArgumentException($"Expected one count per rank ({WorldSize}), got {counts.Length}.", nameof(counts));
        foreach (int count in counts) ArgumentOutOfRangeException.ThrowIfNegative(count, nameof(counts));
    }

    private void Check(int result, string call)
    {
        if (result != 0)
            throw new InvalidOperationException($"{call} failed with NCCL error {result}: {Marshal.PtrToStringUTF8((nint)errorString(result))}.");
    }
}
