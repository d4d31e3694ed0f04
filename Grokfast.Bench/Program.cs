using System.CommandLine;
using Grokfast.Bench;
using Grokfast.Bench.Replay;
using Grokfast.Bench.Support;

// The main job trains for minutes: its OpenMP threads sleep when idle, so that a machine shared with another busy process
// does not slow both to a crawl (the benchmarks keep libgomp's spinning, faster alone; a user's own setting wins).
if (args is [] or ["grok", ..]) OpenMpWaitPolicy.PreferPassive();

RootCommand root = BenchCommands.Create();
ParseResult parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One clear line and exit code 2 for a command line that does not parse, as for any other bad input.
    Console.Error.WriteLine(string.Join(" ", parsed.Errors[0].Message.Split((char[])['\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
    return ReplayCommand.BadInput;
}
return parsed.Invoke();
