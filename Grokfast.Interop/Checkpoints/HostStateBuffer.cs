using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Grokfast.Checkpoints;

/// <summary>A state buffer that lives in a managed array (the Kalman covariances, a state held in memory).</summary>
internal sealed class HostStateBuffer<T>(string name, T[] values) : StateBuffer(name, (long)values.Length * Unsafe.SizeOf<T>())
    where T : unmanaged
{
    private readonly T[] values = values;

    public override void Save(Action<ReadOnlySpan<byte>> write) => write(MemoryMarshal.AsBytes(values.AsSpan()));

    public override void Load(Action<Span<byte>> read) => read(MemoryMarshal.AsBytes(values.AsSpan()));

    public override StateBuffer CreateStaging() => new HostStateBuffer<T>(Name, new T[values.Length]);

    public override void CopyFrom(StateBuffer staging) => ((HostStateBuffer<T>)staging).values.CopyTo(values, 0);

    public override void CopyPrefixFrom(StateBuffer prefix) => ((HostStateBuffer<T>)prefix).values.CopyTo(values, 0);
}
