using Grokfast.Checkpoints;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Checkpoints;

/// <summary>Checkpoint files written by earlier releases (committed under <c>Fixtures/</c>) still load, to the very state they hold.</summary>
public sealed class OlderFormatTests
{
    private static readonly string[] Versions = ["v1"];

    public static TheoryData<string, string> Fixtures => new(
        from version in Versions
        from name in CheckpointFixtures.Names
        select (version, name));

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Load_OfAnOlderVersionsFile_RestoresTheStateItWasSavedFrom(string version, string name)
    {
        GradientFilterState expected = CheckpointFixtures.Stepped(name);
        var (model, owner, stateDict, load) = CheckpointFixtures.Create(name);
        using (model)
        using (owner)
        {
            load(Path.Combine(AppContext.BaseDirectory, "Checkpoints", "Fixtures", version, name + ".gfst"));

            StateAssert.Same(expected, stateDict());
        }
    }
}
