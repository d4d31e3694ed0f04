namespace Grokfast.Kernels.Backends.Cuda;

/// <summary>
/// Fused clipping on the device: the norm's kernels (<see cref="GradientNorm"/>) and their scratch — lane sums for every
/// block of a step, the columns, the folds and the scale — so the norm and the scale never visit the host.
/// </summary>
internal sealed unsafe class CudaClipping : IDisposable
{
    private readonly Dictionary<GradientFormat, CudaKernelModule> lanes = [];
    private readonly CudaKernelModule columns;
    private readonly CudaKernelModule folds;
    private readonly CudaKernelModule clip;
    private readonly CudaDeviceMemory laneSums;
    private readonly CudaDeviceMemory columnSums;
    private readonly CudaDeviceMemory foldSums;
    private readonly CudaDeviceMemory scale;
    private readonly long capacity;
    private readonly OwnedResources owned = new();
    private long blocks;

    /// <summary>
    /// Loads the kernels for gradients of <paramref name="formats"/> and allocates lane sums for <paramref name="elements"/>
    /// elements split into at most <paramref name="runs"/> runs (each run's last block may be partial).
    /// </summary>
    public CudaClipping(CudaPrimaryContext context, IEnumerable<GradientFormat> formats, long elements, int runs)
    {
        capacity = elements / GradientNorm.BlockLength + runs;
        try
        {
            // float64 has no CUDA passes, so no clipping either: the optimizers refuse it by name.
            foreach (GradientFormat format in formats.Distinct().Where(f => f != GradientFormat.Float64)) lanes[format] = owned.Own(new CudaKernelModule(context, format.NormLaneKernel()));
            columns = owned.Own(new CudaKernelModule(context, GradientNorm.SumKernel<BlockTerms>));
            folds = owned.Own(new CudaKernelModule(context, GradientNorm.SumKernel<ValueTerms>));
            clip = owned.Own(new CudaKernelModule(context, GradientNorm.ClipKernel));
            laneSums = owned.Own(new CudaDeviceMemory(context, capacity * GradientNorm.Lanes, sizeof(double)));
            columnSums = owned.Own(new CudaDeviceMemory(context, GradientNorm.Columns, sizeof(double)));
            foldSums = owned.Own(new CudaDeviceMemory(context, GradientNorm.Folds, sizeof(double)));
            scale = owned.Own(new CudaDeviceMemory(context, 1, sizeof(float)));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The scale the last <see cref="Finish"/> queued.</summary>
    public DeviceView Scale => new(scale.Address, 1);

    /// <summary>Starts a step: no blocks yet.</summary>
    public void Begin() => blocks = 0;

    /// <summary>Queues the lane sums of a run of <paramref name="length"/> gradients at <paramref name="data"/>, after the step's earlier runs.</summary>
    public void Scan(nint data, long length, GradientFormat format)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (length == 0) return;
        long runBlocks = GradientNorm.Blocks(length);
        if (blocks + runBlocks > capacity)
            throw new InvalidOperationException($"The step's runs need more than the {capacity} norm blocks allocated.");
        var view = new DeviceView(data, length);
        var sums = new DeviceView(laneSums.Address + (nint)(blocks * GradientNorm.Lanes * sizeof(double)), runBlocks * GradientNorm.Lanes);
        lanes[format].Launch(sums.Length, KernelArgument.Of(&view), KernelArgument.Of(&sums));
        blocks += runBlocks;
    }

    /// <summary>Queues the columns, the folds and the scale; the norm goes to <paramref name="norm"/>, a NaN or ±Inf sets <paramref name="skip"/> when <paramref name="guard"/>.</summary>
    public void Finish(double maxNorm, nint norm, bool guard, DeviceView skip)
    {
        var sums = new DeviceView(laneSums.Address, blocks * GradientNorm.Lanes);
        long count = blocks, columnCount = GradientNorm.Columns;
        var columnView = new DeviceView(columnSums.Address, GradientNorm.Columns);
        var foldView = new DeviceView(foldSums.Address, GradientNorm.Folds);
        var normView = new DeviceView(norm, 1);
        DeviceView scaleView = Scale;
        int guarded = guard ? 1 : 0;
        columns.Launch(GradientNorm.Columns, KernelArgument.Of(&sums), KernelArgument.Of(&count), KernelArgument.Of(&columnView));
        folds.Launch(GradientNorm.Folds, KernelArgument.Of(&columnView), KernelArgument.Of(&columnCount), KernelArgument.Of(&foldView));
        clip.Launch(1, KernelArgument.Of(&foldView), KernelArgument.Of(&normView), KernelArgument.Of(&scaleView), KernelArgument.Of(&skip),
            KernelArgument.Of(&maxNorm), KernelArgument.Of(&guarded));
    }

    /// <summary>Unloads the kernels and frees the scratch. Never throws.</summary>
    public void Dispose() => owned.Dispose();
}
