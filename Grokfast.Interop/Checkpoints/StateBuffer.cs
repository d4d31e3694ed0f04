namespace Grokfast.Checkpoints;

/// <summary>
/// One named buffer of a filter's or optimizer's state as a checkpoint moves it: its bytes handed out, or filled in, a
/// chunk at a time, so that saving and loading stream between the state and the file without a copy of either.
/// </summary>
/// <param name="name">The buffer's name in checkpoints.</param>
/// <param name="length">Its length in bytes.</param>
internal abstract class StateBuffer(string name, long length) : IDisposable
{
    public string Name { get; } = name;

    public long Length { get; } = length;

    /// <summary>Hands the buffer's bytes to <paramref name="write"/>, in order, in chunks.</summary>
    public abstract void Save(Action<ReadOnlySpan<byte>> write);

    /// <summary>Overwrites the buffer's bytes, in order, each chunk filled completely by <paramref name="read"/>.</summary>
    public abstract void Load(Action<Span<byte>> read);

    /// <summary>
    /// A new buffer of the same name and length where this one lives (the same device), for a load to fill before this
    /// one is overwritten; the caller disposes it.
    /// </summary>
    public abstract StateBuffer CreateStaging();

    /// <summary>Overwrites this buffer with <paramref name="staging"/>, which this buffer's <see cref="CreateStaging"/> made.</summary>
    public abstract void CopyFrom(StateBuffer staging);

    /// <summary>
    /// Overwrites this buffer's first bytes with <paramref name="prefix"/>'s, a buffer of the same kind and name no longer
    /// than this one: the same state before a parameter group was appended to the layout.
    /// </summary>
    public abstract void CopyPrefixFrom(StateBuffer prefix);

    /// <summary>Frees the memory a staging buffer owns; a buffer over live state owns none.</summary>
    public virtual void Dispose()
    {
    }

    /// <summary>A copy of the bytes, for a state held in memory (<see cref="GradientFilterState"/>); at most <see cref="Array.MaxLength"/> of them.</summary>
    public byte[] ToArray()
    {
        if (Length > Array.MaxLength)
            throw new InvalidOperationException($"The state buffer '{Name}' is {Length} bytes, more than a state held in memory can take ({Array.MaxLength}); save(path) and load(path) stream state of any size.");
        byte[] bytes = new byte[Length];
        int at = 0;
        Save(chunk =>
        {
            chunk.CopyTo(bytes.AsSpan(at));
            at += chunk.Length;
        });
        return bytes;
    }

    /// <summary>Overwrites the buffer from <paramref name="bytes"/>, exactly <see cref="Length"/> of them.</summary>
    public void LoadFrom(byte[] bytes)
    {
        int at = 0;
        Load(chunk =>
        {
            bytes.AsSpan(at, chunk.Length).CopyTo(chunk);
            at += chunk.Length;
        });
    }
}
