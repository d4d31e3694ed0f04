using System.CommandLine;
using System.Globalization;
using System.Text;
using Grokfast.Bench;
using Grokfast.Tests.Support;

namespace Grokfast.Tests.Docs;

/// <summary>
/// docs/cli.md's reference part is generated from the app's command definitions: every verb, its description and every
/// option with its description and default. A verb or option added, renamed or redescribed without the docs fails here,
/// with the text to paste.
/// </summary>
public sealed class CliReferenceTests
{
    private const string Begin = "<!-- cli:begin (generated from Grokfast.Bench's command definitions; CliReferenceTests checks it) -->";
    private const string End = "<!-- cli:end -->";

    [Fact]
    public void CliReference_IsTheCommandDefinitions()
    {
        string path = Path.Combine(Repository.Root, "docs", "cli.md");
        string doc = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal);
        int begin = doc.IndexOf(Begin, StringComparison.Ordinal), end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(begin >= 0 && end > begin, $"docs/cli.md has no generated part ({Begin} … {End})");

        string expected = Render(BenchCommands.Create());
        string actual = doc[(begin + Begin.Length)..end];

        if (actual != expected)
        {
            string rendered = Path.Combine(Path.GetTempPath(), "grokfast-cli.md");
            File.WriteAllText(rendered, Begin + expected + End + "\n");
            Assert.Fail($"docs/cli.md's generated part differs from the command definitions; the rendered part is in {rendered}.");
        }
    }

    private static string Render(RootCommand root)
    {
        var text = new StringBuilder("\n");
        foreach (Command verb in root.Subcommands)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n## `{verb.Name}`\n\n{Cell(verb.Description)}\n");
            if (verb.Options.Count == 0 && verb.Arguments.Count == 0) continue;
            text.Append("\n| option | what | default |\n|---|---|---|\n");
            foreach (Option option in verb.Options)
            {
                string names = string.Join(", ", new[] { option.Name }.Concat(option.Aliases.Order(StringComparer.Ordinal)).Select(n => $"`{n}`"));
                string fallback = option.HasDefaultValue ? Value(option.GetDefaultValue()) : "";
                text.Append(CultureInfo.InvariantCulture, $"| {names} | {Cell(option.Description)} | {fallback} |\n");
            }
            foreach (Argument argument in verb.Arguments)
                text.Append(CultureInfo.InvariantCulture, $"| `<{argument.Name}>` (arguments) | {Cell(argument.Description)} | |\n");
        }
        return text.Append('\n').ToString();
    }

    private static string Cell(string? text) =>
        (text ?? "").Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);

    private static string Value(object? value) => value switch
    {
        null => "",
        bool b => b ? "`true`" : "`false`",
        IFormattable f => $"`{f.ToString(null, CultureInfo.InvariantCulture)}`",
        FileSystemInfo file => $"`{file}`",
        _ => $"`{value}`",
    };
}
