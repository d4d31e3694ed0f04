using Grokfast.Kernels.Backends;
using Grokfast.Kernels.Backends.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace Grokfast.Filters;

/// <summary>Where a filter's passes run: the backend asked for, checked against the parameters' device.</summary>
internal static class FilterBackends
{
    /// <summary>The backend for parameters on <paramref name="device"/>: Auto follows the device; a backend that cannot reach it throws saying which would.</summary>
    public static KernelBackend Resolve(KernelBackend backend, Device device)
    {
        bool onCpu = device.type == DeviceType.CPU;
        bool onCuda = device.type == DeviceType.CUDA;
        return backend switch
        {
            KernelBackend.Auto when onCpu => KernelBackend.Cpu,
            KernelBackend.Auto when onCuda => KernelBackend.Cuda,
            KernelBackend.Cpu or KernelBackend.IlgpuCpu when onCpu => backend,
            KernelBackend.Cuda when onCuda => backend,
            KernelBackend.Cpu or KernelBackend.IlgpuCpu when onCuda => throw new ArgumentException(
                $"Backend {backend} filters host memory, but the parameters are on {device}; use Auto or Cuda.", nameof(backend)),
            KernelBackend.Cuda when onCpu => throw new ArgumentException(
                $"Backend Cuda filters CUDA device memory, but the parameters are on {device}; use Auto, Cpu or IlgpuCpu.", nameof(backend)),
            _ => throw new NotSupportedException(
                $"The parameters are on {device}: Grokfast filters CPU tensors (backends Cpu, IlgpuCpu) and CUDA tensors (backend Cuda)."),
        };
    }

    /// <summary>The primary context of the parameters' CUDA device, or a <see cref="CudaUnavailableException"/> saying why not.</summary>
    public static CudaPrimaryContext OpenCudaContext(Device device)
    {
        try
        {
            return CudaPrimaryContext.Open(Math.Max(0, device.index));
        }
        catch (CudaUnavailableException error)
        {
            throw new CudaUnavailableException($"The parameters are on {device}, but {error.Message}");
        }
    }
}
