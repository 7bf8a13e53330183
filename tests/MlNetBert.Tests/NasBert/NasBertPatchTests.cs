using System.Reflection;
using Microsoft.ML.TorchSharp.NasBert;
using Mono.Cecil;

namespace MlNetBert.Tests.NasBert;

/// <summary>
/// The ML.NET/TorchSharp compatibility patch (eng/PatchMlNetTorchSharp.cs, run after every build by
/// eng/MlNetTorchSharpCompat.targets): the package's own assembly disposes the init helpers' results, the copy this
/// test runs with does not, and patching is idempotent. NasBertTrainingTests shows that training then works.
/// </summary>
[TestClass]
public sealed class NasBertPatchTests
{
    private static string PackageAssembly()
    {
        var mlnet = typeof(TextClassificationTrainer).Assembly;
        string version = mlnet.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];
        string root = typeof(NasBertPatchTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "MlNetBert.Tests.NuGetPackageRoot").Value!;
        string path = Path.Combine(root, "microsoft.ml.torchsharp", version, "lib", "net8.0", "Microsoft.ML.TorchSharp.dll");
        if (!File.Exists(path))
            Assert.Inconclusive($"{path} is not in the NuGet cache");
        return path;
    }

    private static List<KeyValuePair<string, int>> DisposeCalls(string path)
    {
        using var module = ModuleDefinition.ReadModule(path);
        Assert.HasCount(4, MlNetTorchSharpPatch.TargetMethods(module), "ModelUtils has the four Init* helpers");
        return MlNetTorchSharpPatch.FindDisposeCalls(module);
    }

    [TestMethod]
    public void PackageAssemblyDisposesWhatTheInitHelpersReturn()
    {
        var calls = DisposeCalls(PackageAssembly());
        CollectionAssert.AreEquivalent(MlNetTorchSharpPatch.MethodNames, calls.Select(c => c.Key).ToArray(),
            "each of the four helpers disposes the tensor torch.nn.init.*_() returns: the parameter itself since TorchSharp 0.103");
    }

    [TestMethod]
    public void AssemblyInTheOutputFolderIsPatched()
    {
        string loaded = typeof(TextClassificationTrainer).Assembly.Location;
        Assert.AreNotEqual(Path.GetFullPath(PackageAssembly()), Path.GetFullPath(loaded), "the app runs a copy, not the NuGet cache's file");
        Assert.IsEmpty(DisposeCalls(loaded), "the build removed every Dispose call from the copied assembly");
    }

    [TestMethod]
    public void PatchChangesTwentyBytesOnceAndIsIdempotent()
    {
        string folder = Path.Combine(Path.GetTempPath(), "mlnetbert-patch-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string copy = Path.Combine(folder, "Microsoft.ML.TorchSharp.dll");
            File.Copy(PackageAssembly(), copy);
            var stamp = File.GetLastWriteTimeUtc(copy);
            byte[] before = File.ReadAllBytes(copy);

            var first = MlNetTorchSharpPatch.Patch(copy);
            Assert.AreEqual(4, first.Patched);
            Assert.IsTrue(first.KnownMethodsFound);
            byte[] after = File.ReadAllBytes(copy);
            Assert.HasCount(before.Length, after, "the file keeps its size");
            var calls = Enumerable.Range(0, before.Length).Where(i => before[i] == 0x6F && after[i] == 0x26).ToList();
            Assert.HasCount(4, calls, "four callvirt became pop");
            var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]);
            Assert.IsTrue(changed.All(i => calls.Any(c => i >= c && i < c + 5) && (i == calls.First(c => i >= c && i < c + 5) || after[i] == 0)),
                "nothing else changes: each callvirt Dispose + token (5 bytes) became pop + 4 nop");
            Assert.AreEqual(stamp, File.GetLastWriteTimeUtc(copy), "the timestamp is kept, so incremental copies stay incremental");
            Assert.IsEmpty(DisposeCalls(copy));

            var second = MlNetTorchSharpPatch.Patch(copy);
            Assert.AreEqual(0, second.Patched, "an already patched file is left alone");
            CollectionAssert.AreEqual(after, File.ReadAllBytes(copy));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
