using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using Grokfast.Kernels.Distributed;
using Grokfast.Optim;
using Grokfast.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Tests.Distributed;

/// <summary>
/// NCCL on CUDA buffers. Here: what is refused, and how, before any GPU is touched. On a GPU (tools/gpu/run.sh, which
/// puts PyTorch's NCCL on the library path): a world of one, whose collectives must move the bytes they are given — a
/// reduce-scatter fills its separate receive buffer — and whose data-parallel step is the plain step bit for bit.
/// </summary>
[Trait(CudaFactAttribute.Trait, CudaFactAttribute.TraitValue)]
public sealed unsafe class NcclCommunicatorTests
{
    [Fact]
    public void AMissingNcclLibrary_IsNamed()
    {
        var error = Assert.Throws<DllNotFoundException>(() => NcclCommunicator.Create(0, library: "libgrokfast-no-such-nccl.so.2"));

        Assert.Contains("libgrokfast-no-such-nccl.so.2", error.Message, StringComparison.Ordinal);
        Assert.Contains("LD_LIBRARY_PATH", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SeveralRanks_WithoutARendezvous_AreRefusedNamingNcclCommId()
    {
        var environment = new Dictionary<string, string?> { ["RANK"] = "1", ["WORLD_SIZE"] = "2", ["MASTER_ADDR"] = "node0" };  // no port

        var error = Assert.Throws<InvalidOperationException>(() => NcclCommunicator.Create(0, null, "libgrokfast-no-such-nccl.so.2", environment));

        Assert.Contains(NcclRendezvous.Variable, error.Message, StringComparison.Ordinal);
        Assert.Contains("MASTER_PORT", error.Message, StringComparison.Ordinal);
        Assert.Contains("mpirun", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheRendezvous_IsNcclCommId_ElseTorchrunsMasterWithTheNextPort()
    {
        Assert.Equal("node0:29501", NcclRendezvous.Address(new Dictionary<string, string?> { ["MASTER_ADDR"] = "node0", ["MASTER_PORT"] = "29500" }));
        Assert.Equal("[fd00::1]:29501", NcclRendezvous.Address(new Dictionary<string, string?> { ["MASTER_ADDR"] = "fd00::1", ["MASTER_PORT"] = "29500" }));
        Assert.Equal("10.0.0.2:4000", NcclRendezvous.Address(new Dictionary<string, string?>
        {
            [NcclRendezvous.Variable] = "10.0.0.2:4000", ["MASTER_ADDR"] = "node0", ["MASTER_PORT"] = "29500",
        }));
        Assert.Null(NcclRendezvous.Address(new Dictionary<string, string?> { ["MASTER_ADDR"] = "node0" }));
        var port = Assert.Throws<InvalidOperationException>(() => NcclRendezvous.Address(new Dictionary<string, string?> { ["MASTER_ADDR"] = "node0", ["MASTER_PORT"] = "65535" }));
        Assert.Contains("MASTER_PORT=65535", port.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ABootstrapOnDeviceMemory_IsRefused()
    {
        using var bootstrap = new DeviceWorldOfOne();

        var error = Assert.Throws<ArgumentException>(() => NcclCommunicator.Create(0, bootstrap));

        Assert.Equal("bootstrap", error.ParamName);
    }

    [CudaFact]
    public void AWorldOfOne_MovesTheBytes_InEveryFormat()
    {
        using NcclCommunicator world = NcclCommunicator.Create(0);
        using CudaPrimaryContext context = CudaPrimaryContext.Open(0);
        Assert.Equal((0, 1), (world.Rank, world.WorldSize));
        foreach (GradientFormat format in Enum.GetValues<GradientFormat>())
        {
            int words = 40 * format.ElementSize() / sizeof(ushort);
            ushort[] values = [.. Enumerable.Range(1, words).Select(i => (ushort)(0x3C00 + i))];
            using var send = new CudaDeviceMemory(context, words / 2);
            using var receive = new CudaDeviceMemory(context, words / 2);
            send.Write<ushort>(values);

            world.AllReduceSum(send.Address, 40, format);
            world.ReduceScatterSum(send.Address, receive.Address, [40], format);
            world.AllGatherInPlace(receive.Address, [40], format);

            var sent = new ushort[words];
            var received = new ushort[words];
            send.Read<ushort>(sent);
            receive.Read<ushort>(received);
            Assert.Equal(values, sent);
            Assert.Equal(values, received);
        }
        Assert.Equal(2.5, world.AllReduceSum(2.5));
        Assert.Equal(-1.5, world.AllReduceMax(-1.5));
    }

    [CudaFact]
    public void DataParallelOnCuda_InAWorldOfOne_IsThePlainStepBitForBit()
    {
        Assert.SkipUnless(torch.cuda.is_available(), "This libtorch has no CUDA; tools/gpu/run.sh loads the GPU machine's PyTorch libraries.");
        using NcclCommunicator world = NcclCommunicator.Create(0);
        using var plainModel = TinyMlp.Create().to(torch.CUDA);
        using var parallelModel = TinyMlp.Create().to(torch.CUDA);
        (Tensor x, Tensor y) = TinyMlp.Data();
        using Tensor gx = x.cuda(), gy = y.cuda();
        using var plain = new GrokfastAdamW(plainModel, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0)) { max_grad_norm = 0.5 };
        using var parallel = new GrokfastAdamW(parallelModel, lr: 1e-2, grokfast: GrokfastFilter.Ema(alpha: 0.9, lamb: 2.0)) { max_grad_norm = 0.5, communicator = world };

        for (int step = 0; step < 10; step++)
        {
            TinyMlp.Step(plainModel, plain, gx, gy);
            TinyMlp.Step(parallelModel, parallel, gx, gy);
        }

        Assert.Equal(TinyMlp.Flatten(plainModel.parameters().Select(p => p.cpu())), TinyMlp.Flatten(parallelModel.parameters().Select(p => p.cpu())));
    }

    /// <summary>A communicator that says it takes device memory: no bootstrap for NCCL's id.</summary>
    private sealed class DeviceWorldOfOne : ICommunicator
    {
        public int Rank => 0;

        public int WorldSize => 1;

        public bool TakesDeviceMemory => true;

        public void AllReduceSum(nint buffer, long count, GradientFormat format) => throw new NotSupportedException();

        public void ReduceScatterSum(nint send, nint receive, ReadOnlySpan<int> counts, GradientFormat format) => throw new NotSupportedException();

        public void AllGatherInPlace(nint buffer, ReadOnlySpan<int> counts, GradientFormat format) => throw new NotSupportedException();

        public double AllReduceSum(double value) => throw new NotSupportedException();

        public double AllReduceMax(double value) => throw new NotSupportedException();

        public void Dispose()
        {
        }
    }
}
