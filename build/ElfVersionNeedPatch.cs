// Marks one symbol-version requirement of an ELF shared library as weak, so the dynamic loader
// accepts a system library that lacks that version. Compiled twice: as an MSBuild inline task by
// Grokfast.LibStdCxxFix.targets, and into Grokfast.Tests, which checks the ELF logic directly.
//
// Why: TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32 (GCC 13's libstdc++) only for
// std::ios_base_library_init, which no relocation uses. Debian 12 and Ubuntu 22.04 ship an older
// libstdc++, so the loader refuses the library. With VER_FLG_WEAK on that one Vernaux entry the
// loader tolerates the missing version and the library loads and runs.
// MSBuild compiles inline tasks against netstandard2.0, hence BitConverter and no records or spans.
#nullable enable
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;

/// <summary>MSBuild task: weakens <see cref="Version"/> in each file when the system library lacks it.</summary>
public sealed class WeakenMissingVersionNeed : Microsoft.Build.Utilities.Task
{
    /// <summary>Shared libraries to patch in place (copies in the build output, never the package cache).</summary>
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>Soname of the system library that should define the version, e.g. libstdc++.so.6.</summary>
    [Required] public string Library { get; set; } = "";

    /// <summary>Version name to weaken when the system library does not define it, e.g. GLIBCXX_3.4.32.</summary>
    [Required] public string Version { get; set; } = "";

    public override bool Execute()
    {
        string? systemLibrary = ElfVersionNeedPatch.FindSystemLibrary(Library);
        if (systemLibrary is null)
        {
            Log.LogMessage(MessageImportance.Normal, $"{Library} not found on this system; leaving {Version} needs unchanged.");
            return true;
        }
        if (ElfVersionNeedPatch.DefinesVersion(systemLibrary, Version))
        {
            Log.LogMessage(MessageImportance.Low, $"{systemLibrary} defines {Version}; nothing to patch.");
            return true;
        }
        foreach (ITaskItem item in Files)
        {
            string path = item.ItemSpec;
            bool changed = ElfVersionNeedPatch.MarkVersionNeedWeak(path, Version);
            Log.LogMessage(MessageImportance.High,
                changed ? $"Grokfast: marked {Version} weak in {path} ({systemLibrary} lacks it)."
                        : $"Grokfast: {path} has no strong need for {Version}.");
        }
        return true;
    }
}

/// <summary>The ELF64 little-endian reading and patching behind <see cref="WeakenMissingVersionNeed"/>.</summary>
public static class ElfVersionNeedPatch
{
    private const uint ShtGnuVerdef = 0x6ffffffd;
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>Sets VER_FLG_WEAK on every Vernaux entry named <paramref name="version"/>; true if the file changed.</summary>
    /// <remarks>Writes a new file and renames it over the old one, so a hard link into a package cache stays untouched.</remarks>
    public static bool MarkVersionNeedWeak(string path, string version)
    {
        byte[] image = File.ReadAllBytes(path);
        bool changed = false;
        foreach ((string name, int flagsOffset) in VersionNeeds(image))
        {
            ushort flags = U16(image, flagsOffset);
            if (name != version || (flags & VerFlagWeak) != 0) continue;
            flags |= VerFlagWeak;
            image[flagsOffset] = (byte)flags;
            image[flagsOffset + 1] = (byte)(flags >> 8);
            changed = true;
        }
        if (changed)
        {
            string temporary = path + ".grokfast-tmp";
            File.WriteAllBytes(temporary, image);
            File.Delete(path);
            File.Move(temporary, path);
        }
        return changed;
    }

    /// <summary>Whether the Vernaux entry named <paramref name="version"/> carries VER_FLG_WEAK; null if there is none.</summary>
    public static bool? IsVersionNeedWeak(string path, string version)
    {
        byte[] image = File.ReadAllBytes(path);
        foreach ((string name, int flagsOffset) in VersionNeeds(image))
            if (name == version) return (U16(image, flagsOffset) & VerFlagWeak) != 0;
        return null;
    }

    /// <summary>Every Vernaux entry of .gnu.version_r: its version name and the file offset of its vna_flags.</summary>
    private static IEnumerable<(string Name, int FlagsOffset)> VersionNeeds(byte[] image)
    {
        foreach (Section section in Sections(image, ShtGnuVerneed))
        {
            int strtab = checked((int)SectionAt(image, (int)section.Link).Offset);
            int entry = checked((int)section.Offset);
            for (uint n = 0; n < section.Info; n++)
            {
                ushort auxCount = U16(image, entry + 2);
                int aux = entry + (int)U32(image, entry + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    yield return (CString(image, strtab + (int)U32(image, aux + 8)), aux + 4);
                    aux += (int)U32(image, aux + 12);
                }
                entry += (int)U32(image, entry + 12);
            }
        }
    }

    /// <summary>Whether the library's version definitions (.gnu.version_d) include <paramref name="version"/>.</summary>
    public static bool DefinesVersion(string libraryPath, string version)
    {
        byte[] image = File.ReadAllBytes(libraryPath);
        foreach (Section section in Sections(image, ShtGnuVerdef))
        {
            int strtab = checked((int)SectionAt(image, (int)section.Link).Offset);
            int entry = checked((int)section.Offset);
            for (uint n = 0; n < section.Info; n++)
            {
                int aux = entry + (int)U32(image, entry + 12);
                if (CString(image, strtab + (int)U32(image, aux)) == version) return true;
                entry += (int)U32(image, entry + 16);
            }
        }
        return false;
    }

    /// <summary>The path the dynamic loader would use for <paramref name="soname"/>: ldconfig's cache, then the usual folders.</summary>
    public static string? FindSystemLibrary(string soname)
    {
        foreach (string ldconfig in new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig" })
        {
            if (!File.Exists(ldconfig)) continue;
            using Process process = Process.Start(new ProcessStartInfo(ldconfig, "-p") { RedirectStandardOutput = true })!;
            string listing = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            foreach (string line in listing.Split('\n'))
            {
                // e.g. "	libstdc++.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libstdc++.so.6"
                string trimmed = line.Trim();
                int arrow = trimmed.IndexOf("=>", StringComparison.Ordinal);
                if (arrow > 0 && trimmed.StartsWith(soname + " ", StringComparison.Ordinal) && trimmed.Contains("x86-64"))
                    return trimmed.Substring(arrow + 2).Trim();
            }
        }
        foreach (string folder in new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib" })
        {
            string candidate = Path.Combine(folder, soname);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private readonly struct Section
    {
        public Section(uint type, ulong offset, uint link, uint info)
        {
            Type = type;
            Offset = offset;
            Link = link;
            Info = info;
        }

        public uint Type { get; }
        public ulong Offset { get; }
        public uint Link { get; }
        public uint Info { get; }
    }

    private static IEnumerable<Section> Sections(byte[] image, uint type)
    {
        if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F'
            || image[4] != 2 || image[5] != 1 || !BitConverter.IsLittleEndian)
            throw new InvalidDataException("Not a little-endian ELF64 file.");
        ushort count = U16(image, 0x3C);
        for (int i = 0; i < count; i++)
        {
            Section section = SectionAt(image, i);
            if (section.Type == type) yield return section;
        }
    }

    private static Section SectionAt(byte[] image, int index)
    {
        int header = checked((int)BitConverter.ToUInt64(image, 0x28) + index * U16(image, 0x3A));
        return new Section(
            U32(image, header + 4),
            BitConverter.ToUInt64(image, header + 0x18),
            U32(image, header + 0x28),
            U32(image, header + 0x2C));
    }

    private static ushort U16(byte[] image, int offset) => BitConverter.ToUInt16(image, offset);

    private static uint U32(byte[] image, int offset) => BitConverter.ToUInt32(image, offset);

    private static string CString(byte[] image, int offset)
    {
        int end = Array.IndexOf(image, (byte)0, offset);
        return Encoding.ASCII.GetString(image, offset, end - offset);
    }
}
