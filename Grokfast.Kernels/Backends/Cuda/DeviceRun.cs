namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>A run of consecutive parameters that one CUDA launch filters, sharing their step count.</summary>
/// <param name="Slot">The run's place among this step's runs: which slot its constants go to on the device.</param>
/// <param name="FirstParameter">Index of its first parameter.</param>
/// <param name="EndParameter">Index one past its last parameter.</param>
/// <param name="Offset">Its first element in the flat gradient buffer.</param>
/// <param name="Length">Its elements.</param>
public readonly record struct DeviceRun(int Slot, int FirstParameter, int EndParameter, long Offset, long Length);
