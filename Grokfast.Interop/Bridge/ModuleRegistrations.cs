using System.Runtime.CompilerServices;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Grokfast.Bridge;

/// <summary>
/// A snapshot of what every module in a tree has registered — its submodules and its Parameter objects, with
/// whether each is trainable — that answers "has anything changed?" every step without allocating.
/// </summary>
/// <remarks>
/// TorchSharp's public view of the registrations, <c>named_parameters()</c>, builds iterators, a set and a name
/// string per parameter on every call, and handle validity is no substitute: <c>Module.to()</c> assigns
/// replacements through a module's properties, and a user's property need not dispose the old Parameter. So
/// this reads the tables TorchSharp's registration methods write in every module (<c>_internal_params</c>,
/// <c>_internal_submodules</c>) through <see cref="UnsafeAccessorAttribute"/>, with no reflection at run time.
/// It sees every replaced, disposed, frozen or unfrozen parameter and every module or parameter registered
/// after the capture; it does not see an edit to a list a module keeps beside those tables (appending to a
/// <c>Sequential</c> after the filter was built). A <c>ParameterList</c> is read from its own list, which its
/// <c>named_parameters()</c> lists: TorchSharp 0.107's <c>Module.to()</c> replaces the list's parameters but leaves
/// the disposed ones in its table.
/// </remarks>
internal sealed class ModuleRegistrations
{
    private readonly Entry[] entries;

    private ModuleRegistrations(Entry[] entries) => this.entries = entries;

    /// <summary>
    /// The registrations of <paramref name="root"/> and every module below it; null where they cannot vouch for
    /// <paramref name="trainable"/> — a parameter some module keeps outside TorchSharp's tables, or a TorchSharp
    /// that keeps its tables elsewhere.
    /// </summary>
    public static ModuleRegistrations? TryCapture(Module root, IEnumerable<Parameter> trainable)
    {
        List<Entry> entries = [];
        try
        {
            Capture(root, entries);
        }
        catch (MissingFieldException)
        {
            return null;
        }
        var registered = new HashSet<Parameter>(entries.SelectMany(e => e.Parameters), ReferenceEqualityComparer.Instance);
        return trainable.All(registered.Contains) ? new ModuleRegistrations(entries.ToArray()) : null;
    }

    /// <summary>True when every module still registers the same submodules and Parameters, each as trainable (live, requiring grad) as before.</summary>
    public bool Unchanged()
    {
        foreach (Entry entry in entries)
        {
            OrderedDict<string, Module> submodules = Submodules(entry.Module);
            if (submodules.Count != entry.Submodules.Length) return false;
            for (int i = 0; i < submodules.Count; i++)
            {
                if (!ReferenceEquals(submodules[i].Item2, entry.Submodules[i])) return false;
            }
            bool same = entry.Module is ParameterList list ? Same(Items(list), entry) : Same(Parameters(entry.Module), entry);
            if (!same) return false;
        }
        return true;
    }

    private static bool Same(OrderedDict<string, Parameter> parameters, Entry entry)
    {
        if (parameters.Count != entry.Parameters.Length) return false;
        for (int i = 0; i < parameters.Count; i++)
        {
            if (!Same(parameters[i].Item2, entry, i)) return false;
        }
        return true;
    }

    private static bool Same(List<Parameter> parameters, Entry entry)
    {
        if (parameters.Count != entry.Parameters.Length) return false;
        for (int i = 0; i < parameters.Count; i++)
        {
            if (!Same(parameters[i], entry, i)) return false;
        }
        return true;
    }

    private static bool Same(Parameter parameter, Entry entry, int index) =>
        ReferenceEquals(parameter, entry.Parameters[index]) && IsTrainable(parameter) == entry.Trainable[index];

    // Walks the children as the module itself lists them (Sequential keeps its own list), and records the
    // tables TorchSharp's registration methods write (a ParameterList's own list in place of its table).
    private static void Capture(Module module, List<Entry> entries)
    {
        Parameter[] parameters = module is ParameterList list ? [.. Items(list)] : Values(Parameters(module));
        entries.Add(new Entry(module, Values(Submodules(module)), parameters, Array.ConvertAll(parameters, IsTrainable)));
        foreach ((_, Module child) in module.named_children()) Capture(child, entries);
    }

    private static T[] Values<T>(OrderedDict<string, T> table)
    {
        var values = new T[table.Count];
        for (int i = 0; i < values.Length; i++) values[i] = table[i].Item2;
        return values;
    }

    // A disposed Parameter is skipped by named_parameters(), so it counts as not trainable.
    private static bool IsTrainable(Parameter parameter) => !parameter.IsInvalid && parameter.requires_grad;

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_internal_submodules")]
    private static extern ref OrderedDict<string, Module> Submodules(Module module);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_internal_params")]
    private static extern ref OrderedDict<string, Parameter> Parameters(Module module);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_list")]
    private static extern ref List<Parameter> Items(ParameterList list);

    private sealed record Entry(Module Module, Module[] Submodules, Parameter[] Parameters, bool[] Trainable);
}
