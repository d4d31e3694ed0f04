using System.Reflection;
using TorchSharp;

namespace Grokfast.Tests.Build;

public sealed class LibStdCxxFixTests
{
    private const string Version = "GLIBCXX_3.4.32";

    private static string PackagedLibrary => Path.Combine(
        typeof(LibStdCxxFixTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "NuGetPackageRoot").Value!,
        "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    private static string OutputLibrary => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void Torch_AfterTheBuild_LoadsAndComputes()
    {
        using var sum = torch.arange(1, 5, dtype: torch.float32).sum();

        Assert.Equal(10f, sum.item<float>());
    }

    [Fact]
    public void OutputLibrary_WeakNeedExactlyWhereTheSystemLacksTheVersion()
    {
        string? system = ElfVersionNeedPatch.FindSystemLibrary("libstdc++.so.6");
        Assert.NotNull(system);
        bool systemHasIt = ElfVersionNeedPatch.DefinesVersion(system, Version);

        Assert.Equal(!systemHasIt, ElfVersionNeedPatch.IsVersionNeedWeak(OutputLibrary, Version));
    }

    [Fact]
    public void PackageCacheLibrary_IsNeverPatched()
    {
        Assert.False(ElfVersionNeedPatch.IsVersionNeedWeak(PackagedLibrary, Version));
    }

    [Fact]
    public void MarkVersionNeedWeak_OnACopy_WeakensOnlyThatVersionAndIsIdempotent()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"grokfast-elf-{Guid.NewGuid():N}.so");
        File.Copy(PackagedLibrary, copy);
        try
        {
            Assert.True(ElfVersionNeedPatch.MarkVersionNeedWeak(copy, Version));
            Assert.False(ElfVersionNeedPatch.MarkVersionNeedWeak(copy, Version));

            Assert.True(ElfVersionNeedPatch.IsVersionNeedWeak(copy, Version));
            Assert.False(ElfVersionNeedPatch.IsVersionNeedWeak(copy, "GLIBCXX_3.4.30"));
            Assert.Null(ElfVersionNeedPatch.IsVersionNeedWeak(copy, "GLIBCXX_9.9.9"));
            Assert.Equal(new FileInfo(PackagedLibrary).Length, new FileInfo(copy).Length);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void DefinesVersion_ReadsTheSystemLibraryDefinitions()
    {
        string system = ElfVersionNeedPatch.FindSystemLibrary("libstdc++.so.6")!;

        Assert.True(ElfVersionNeedPatch.DefinesVersion(system, "GLIBCXX_3.4"));
        Assert.False(ElfVersionNeedPatch.DefinesVersion(system, "GLIBCXX_9.9.9"));
    }
}
