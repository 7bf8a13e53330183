// Marks one symbol-version requirement of an ELF shared library as weak (VER_FLG_WEAK), so the
// dynamic loader no longer refuses the library when the system's libstdc++ lacks that version.
// Used by eng/TorchSharpNative.targets on libLibTorchSharp.so (TorchSharp 0.107 is built with GCC 13
// and asks for GLIBCXX_3.4.32 only to reference std::ios_base_library_init(), which it never calls).
// Written as an MSBuild task so the build needs nothing but the .NET SDK.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public sealed class WeakenGlibcxxVersion : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>The shared libraries to patch in place (copies in the output folder, never the NuGet cache).</summary>
    [Required]
    public ITaskItem[] Libraries { get; set; } = Array.Empty<ITaskItem>();

    /// <summary>The version requirement to weaken, e.g. GLIBCXX_3.4.32.</summary>
    [Required]
    public string VersionName { get; set; } = "";

    /// <summary>
    /// True (build output, which runs here): patch only when this machine's libstdc++ lacks the version. False
    /// (publish output and tool packages, which run elsewhere): always patch, since the flag is harmless where the
    /// version exists and the target machine's libstdc++ is unknown.
    /// </summary>
    public bool OnlyWhenSystemLacksVersion { get; set; } = true;

    public override bool Execute()
    {
        if (OnlyWhenSystemLacksVersion && SystemLibstdcxxHas(VersionName))
        {
            Log.LogMessage(MessageImportance.Low, "System libstdc++ provides {0}; nothing to patch.", VersionName);
            return true;
        }
        foreach (var item in Libraries)
        {
            string path = item.ItemSpec;
            try
            {
                int changed = Weaken(path, VersionName);
                if (changed > 0)
                    Log.LogMessage(MessageImportance.High, "Marked {0} as a weak version requirement in {1}.", VersionName, path);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                Log.LogError("Cannot patch {0}: {1}", path, ex.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>True when a libstdc++.so.6 in a standard library folder defines the version.</summary>
    public static bool SystemLibstdcxxHas(string versionName)
    {
        string[] folders =
        {
            "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64", "/lib64", "/usr/lib", "/lib",
        };
        byte[] needle = Encoding.ASCII.GetBytes(versionName + "\0");
        foreach (string folder in folders)
        {
            string candidate = Path.Combine(folder, "libstdc++.so.6");
            if (!File.Exists(candidate))
                continue;
            if (IndexOf(File.ReadAllBytes(candidate), needle) >= 0)
                return true;
        }
        // No system libstdc++ with that version where we looked: patching is harmless, so do it.
        return false;
    }

    /// <summary>
    /// Sets VER_FLG_WEAK on every version requirement named <paramref name="versionName"/> in the
    /// ELF64 little-endian file's .gnu.version_r section. Returns how many entries changed (0 when the
    /// file is already patched or has no such requirement). The file keeps its size and timestamp, so
    /// incremental copies stay incremental and running it twice changes nothing.
    /// </summary>
    public static int Weaken(string path, string versionName)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF files are supported");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        ushort shentsize = BitConverter.ToUInt16(elf, 0x3A);
        ushort shnum = BitConverter.ToUInt16(elf, 0x3C);
        int changed = 0;
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)shoff + i * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed)
                continue;
            long offset = (long)BitConverter.ToUInt64(elf, sh + 0x18);
            uint link = BitConverter.ToUInt32(elf, sh + 0x28);
            uint count = BitConverter.ToUInt32(elf, sh + 0x2C);
            int strtab = checked((int)shoff + (int)link * shentsize);
            long strOffset = (long)BitConverter.ToUInt64(elf, strtab + 0x18);

            long verneed = offset;
            for (uint n = 0; n < count; n++)
            {
                ushort auxCount = BitConverter.ToUInt16(elf, (int)verneed + 2);
                uint auxOffset = BitConverter.ToUInt32(elf, (int)verneed + 8);
                uint next = BitConverter.ToUInt32(elf, (int)verneed + 12);
                long aux = verneed + auxOffset;
                for (int a = 0; a < auxCount; a++)
                {
                    int flagsAt = (int)aux + 4;
                    uint nameOffset = BitConverter.ToUInt32(elf, (int)aux + 8);
                    uint auxNext = BitConverter.ToUInt32(elf, (int)aux + 12);
                    if (ReadCString(elf, (int)(strOffset + nameOffset)) == versionName)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                        if ((flags & VerFlagWeak) == 0)
                        {
                            flags |= VerFlagWeak;
                            elf[flagsAt] = (byte)flags;
                            elf[flagsAt + 1] = (byte)(flags >> 8);
                            changed++;
                        }
                    }
                    if (auxNext == 0)
                        break;
                    aux += auxNext;
                }
                if (next == 0)
                    break;
                verneed += next;
            }
        }

        if (changed > 0)
        {
            DateTime stamp = File.GetLastWriteTimeUtc(path);
            string temp = path + ".patching";
            File.WriteAllBytes(temp, elf);
            File.SetLastWriteTimeUtc(temp, stamp);
            // netstandard2.0 (what inline tasks compile against) has no File.Move overwrite; Replace is atomic.
            File.Replace(temp, path, null);
        }
        return changed;
    }

    private static string ReadCString(byte[] data, int at)
    {
        int end = at;
        while (end < data.Length && data[end] != 0)
            end++;
        return Encoding.ASCII.GetString(data, at, end - at);
    }

    private static int IndexOf(byte[] haystack, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && haystack[i + j] == needle[j])
                j++;
            if (j == needle.Length)
                return i;
        }
        return -1;
    }
}
