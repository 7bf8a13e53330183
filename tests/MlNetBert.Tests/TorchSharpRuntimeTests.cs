using TorchSharp;
using static TorchSharp.torch;

namespace MlNetBert.Tests;

[TestClass]
public sealed class TorchSharpRuntimeTests
{
    // Loading libLibTorchSharp.so on Debian 12 only works because the build weakened its GLIBCXX_3.4.32 requirement
    // (eng/TorchSharpNative.targets). Without the patch this test fails with TorchSharp's NotSupportedException.
    [TestMethod]
    public void TorchSharp_LoadsAndMultipliesMatrices()
    {
        using var a = tensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        using var b = tensor(new float[] { 5, 6, 7, 8 }, [2, 2]);
        using var c = a.matmul(b);
        CollectionAssert.AreEqual(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }

    [TestMethod]
    public void CopiedLibTorchSharp_HasNoHardGlibcxx332Requirement()
    {
        string lib = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).Single();
        // Patched on systems whose libstdc++ lacks the version: the requirement is still listed but weak (flag 0x2).
        var weak = ElfVersionRequirements.Read(lib).Single(r => r.Name == "GLIBCXX_3.4.32");
        bool systemHasIt = File.Exists("/usr/lib/x86_64-linux-gnu/libstdc++.so.6")
            && File.ReadAllBytes("/usr/lib/x86_64-linux-gnu/libstdc++.so.6").AsSpan().IndexOf("GLIBCXX_3.4.32\0"u8) >= 0;
        if (!systemHasIt)
            Assert.IsTrue(weak.Weak, "GLIBCXX_3.4.32 should be a weak requirement in the copied libLibTorchSharp.so");
        Assert.IsTrue(ElfVersionRequirements.Read(lib).Where(r => r.Name != "GLIBCXX_3.4.32").All(r => !r.Weak), "only GLIBCXX_3.4.32 is weakened");
    }
}

/// <summary>A small reader of an ELF64 file's version requirements (.gnu.version_r), for checking the build's patch.</summary>
internal static class ElfVersionRequirements
{
    public static List<(string Name, bool Weak)> Read(string path)
    {
        byte[] elf = File.ReadAllBytes(path);
        long shoff = BitConverter.ToInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A), shnum = BitConverter.ToUInt16(elf, 0x3C);
        var result = new List<(string, bool)>();
        for (int i = 0; i < shnum; i++)
        {
            int sh = (int)shoff + i * shentsize;
            if (BitConverter.ToUInt32(elf, sh + 4) != 0x6ffffffe)
                continue;
            long offset = BitConverter.ToInt64(elf, sh + 0x18);
            int link = BitConverter.ToInt32(elf, sh + 0x28), count = BitConverter.ToInt32(elf, sh + 0x2C);
            long strOffset = BitConverter.ToInt64(elf, (int)shoff + link * shentsize + 0x18);
            long need = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    int flags = BitConverter.ToUInt16(elf, (int)aux + 4);
                    int nameAt = (int)(strOffset + BitConverter.ToUInt32(elf, (int)aux + 8));
                    int end = Array.IndexOf(elf, (byte)0, nameAt);
                    result.Add((System.Text.Encoding.ASCII.GetString(elf, nameAt, end - nameAt), (flags & 2) != 0));
                    aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                }
                need += BitConverter.ToUInt32(elf, (int)need + 12);
            }
        }
        return result;
    }
}
