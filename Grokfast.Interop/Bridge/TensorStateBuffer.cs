using Grokfast.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Bridge;

/// <summary>
/// A contiguous float32 or float64 state tensor, on any device, as a checkpoint streams it: 8 MiB at a time, straight
/// from and into its memory on the CPU, through one host chunk at a time on a GPU.
/// </summary>
/// <param name="name">The buffer's name in checkpoints.</param>
/// <param name="tensor">The state it reads and writes.</param>
/// <param name="ownsTensor">Whether disposing the buffer frees the tensor (a staging buffer's own), or leaves it to its owner.</param>
internal sealed class TensorStateBuffer(string name, Tensor tensor, bool ownsTensor = false) : StateBuffer(name, TensorBytes.Length(tensor))
{
    private const long ChunkBytes = 8 << 20;

    private readonly Tensor tensor = tensor;

    public override unsafe void Save(Action<ReadOnlySpan<byte>> write) => ForEachChunk((chunk, bytes) =>
    {
        using Tensor host = chunk.cpu();
        write(new ReadOnlySpan<byte>((void*)TensorBytes.Address(host), bytes));
    });

    public override unsafe void Load(Action<Span<byte>> read) => ForEachChunk((chunk, bytes) =>
    {
        if (chunk.device_type == DeviceType.CPU)
        {
            read(new Span<byte>((void*)TensorBytes.Address(chunk), bytes));
            return;
        }
        using Tensor host = torch.empty(chunk.numel(), tensor.dtype);
        read(new Span<byte>((void*)TensorBytes.Address(host), bytes));
        using (torch.no_grad()) chunk.copy_(host);
    });

    public override StateBuffer CreateStaging() => new TensorStateBuffer(Name, torch.empty_like(tensor).DetachFromDisposeScope(), ownsTensor: true);

    public override void CopyFrom(StateBuffer staging)
    {
        using (torch.no_grad()) tensor.copy_(((TensorStateBuffer)staging).tensor);
    }

    public override void CopyPrefixFrom(StateBuffer prefix)
    {
        Tensor source = ((TensorStateBuffer)prefix).tensor;
        using Tensor flat = tensor.view(-1);
        using Tensor head = flat.narrow(0, 0, source.numel());
        using (torch.no_grad()) head.copy_(source.view(-1));
    }

    public override void Dispose()
    {
        base.Dispose();
        if (ownsTensor) tensor.Dispose();
    }

    private void ForEachChunk(Action<Tensor, int> body)
    {
        long size = tensor.element_size(), elements = tensor.numel(), perChunk = ChunkBytes / size;
        using Tensor flat = tensor.view(-1);
        for (long start = 0; start < elements; start += perChunk)
        {
            long count = Math.Min(perChunk, elements - start);
            using Tensor chunk = flat.narrow(0, start, count);
            body(chunk, (int)(count * size));
        }
    }
}
