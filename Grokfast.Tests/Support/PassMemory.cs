using System.Runtime.InteropServices;
using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Engine;

namespace Grokfast.Tests.Support;

/// <summary>Every stream a pass may take, zeroed in native memory that does not move (64-byte aligned), with <see cref="PassBuffers"/> over it.</summary>
internal sealed unsafe class PassMemory : IDisposable
{
    private readonly List<nint> allocations = [];

    public PassMemory(GradientFormat format, long length, int slots, bool sums, PassUpdate update)
    {
        Length = length;
        ElementSize = format.ElementSize();
        Gradients = Allocate(length * ElementSize);
        Estimates = slots > 0 ? Allocate(slots * length * sizeof(float)) : 0;
        Sums = sums ? Allocate(length * sizeof(double)) : 0;
        bool adam = update != PassUpdate.WriteBack;
        Master = update == PassUpdate.AdamMaster ? Allocate(length * sizeof(float)) : 0;
        Parameters = adam ? Allocate(length * ElementSize) : 0;
        FirstMoments = adam ? Allocate(length * sizeof(float)) : 0;
        SecondMoments = adam ? Allocate(length * sizeof(float)) : 0;
        Buffers = new PassBuffers(Gradients, Estimates, Sums, Master, Parameters, FirstMoments, SecondMoments, length, slots);
    }

    public long Length { get; }

    public int ElementSize { get; }

    public nint Gradients { get; }

    public nint Estimates { get; }

    public nint Sums { get; }

    public nint Master { get; }

    public nint Parameters { get; }

    public nint FirstMoments { get; }

    public nint SecondMoments { get; }

    public PassBuffers Buffers { get; }

    /// <summary>The <paramref name="count"/> elements of type <typeparamref name="T"/> at <paramref name="address"/>.</summary>
    public static Span<T> Span<T>(nint address, long count)
        where T : unmanaged => new((void*)address, checked((int)count));

    private nint Allocate(long bytes)
    {
        var address = (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(1, bytes), 64);
        NativeMemory.Clear((void*)address, (nuint)Math.Max(1, bytes));
        allocations.Add(address);
        return address;
    }

    public void Dispose()
    {
        foreach (nint address in allocations) NativeMemory.AlignedFree((void*)address);
        allocations.Clear();
    }
}
