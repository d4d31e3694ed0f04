namespace Grokfast.Kernels.Backends;

/// <summary>A kernel compiled to PTX.</summary>
/// <param name="Assembly">The PTX text, ready for <c>cuModuleLoadData</c>.</param>
/// <param name="EntryName">The name of its <c>.entry</c>, for <c>cuModuleGetFunction</c>.</param>
internal sealed record PtxKernel(string Assembly, string EntryName);
