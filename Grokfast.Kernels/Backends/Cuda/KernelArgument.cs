using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;

namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>One argument of a launch: where its value lies and how many bytes the driver copies from there.</summary>
internal readonly unsafe struct KernelArgument
{
    private KernelArgument(void* value, int size)
    {
        Value = value;
        Size = size;
    }

    /// <summary>The value's address (on the launching thread's stack).</summary>
    public void* Value { get; }

    /// <summary>Its bytes.</summary>
    public int Size { get; }

    /// <summary>The argument <paramref name="value"/> points at.</summary>
    public static KernelArgument Of<T>(T* value)
        where T : unmanaged => new(value, sizeof(T));

    /// <summary>
    /// Bytes of each parameter of an ILGPU kernel after its thread index, as ILGPU's PTX declares them: an
    /// <c>ArrayView</c> is a <see cref="DeviceView"/>, anything else its own bytes. Derived from the kernel's signature,
    /// so no launcher keeps a table of its own; <see cref="CudaKernelModule.Launch"/> checks every launch against it.
    /// </summary>
    public static int[] ParameterSizes(MethodInfo kernel) =>
        kernel.GetParameters().Skip(1).Select(p => SizeOf(p.ParameterType)).ToArray();

    private static int SizeOf(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ArrayView<>)
            ? sizeof(DeviceView)
            : (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
}
