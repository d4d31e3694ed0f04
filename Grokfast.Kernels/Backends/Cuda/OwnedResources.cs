namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// What a CUDA object made and must free — kernels, device memory, nested objects — freed in the order they were made,
/// so a constructor that fails part-way frees exactly what it had made.
/// </summary>
internal sealed class OwnedResources : IDisposable
{
    private readonly List<IDisposable> resources = [];

    /// <summary>Takes <paramref name="resource"/> to free with the rest; returns it.</summary>
    public T Own<T>(T resource)
        where T : IDisposable
    {
        resources.Add(resource);
        return resource;
    }

    /// <summary>Frees everything taken so far, once. Never throws (each resource's Dispose does not).</summary>
    public void Dispose()
    {
        foreach (IDisposable resource in resources) resource.Dispose();
        resources.Clear();
    }
}
