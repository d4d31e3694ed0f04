using System.Runtime.InteropServices;

namespace Grokfast.Checkpoints;

/// <summary>
/// Replaces a file so that a reader, a killed writer or a machine that loses power leaves the old file or the new one,
/// never a mix: the bytes go to a temporary file of a name of its own in the same folder (so two writers never share
/// one), are flushed to disk, the file is renamed over the target (atomic on POSIX file systems and NTFS), and the folder
/// is flushed so that the rename itself is on disk when <see cref="Write"/> returns.
/// </summary>
internal static partial class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> whole through <paramref name="write"/>; a write that throws leaves no temporary file behind.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string target = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(target)!;
        string temporary = Path.Combine(folder, $"{Path.GetFileName(target)}.{Path.GetRandomFileName()}.partial");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
        FlushFolder(folder);
    }

    /// <summary>fsync on the folder, which POSIX needs for a rename to be durable; Windows offers no such call, nor needs it.</summary>
    private static void FlushFolder(string folder)
    {
        if (OperatingSystem.IsWindows()) return;
        int descriptor = Open(folder, 0 /* O_RDONLY */);
        if (descriptor < 0) throw new IOException($"Could not open the folder '{folder}' to flush it (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            // Some file systems (a few network ones) cannot flush a folder: EINVAL says so, and there is nothing more to do.
            const int NotSupportedForThisFile = 22; // EINVAL
            if (Fsync(descriptor) != 0 && Marshal.GetLastPInvokeError() is int error && error != NotSupportedForThisFile)
                throw new IOException($"Could not flush the folder '{folder}' to disk (errno {error}).");
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
