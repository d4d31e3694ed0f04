using System.Runtime.InteropServices;
using Grokfast.Kernels.Backends;
using TorchSharp;

namespace Grokfast.Bridge;

/// <summary>
/// Hands the CPU twins libtorch's own OpenMP team (see <see cref="OpenMpTeam"/>), found through the
/// native library TorchSharp calls, whose dependencies include libtorch's OpenMP runtime.
/// </summary>
internal static class LibTorchThreads
{
    private static readonly Lazy<nint> LibTorchSharp = new(() =>
        NativeLibrary.TryLoad("LibTorchSharp", typeof(torch).Assembly, null, out nint library) ? library : 0);

    /// <summary>Binds the CPU twins to libtorch's team unless they are already; true when they run on it.</summary>
    internal static bool EnsureBound() => OpenMpTeam.IsBound || (LibTorchSharp.Value != 0 && OpenMpTeam.TryBind(LibTorchSharp.Value));
}
