using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace MlNetBert.Inference;

/// <summary>
/// Everything a fine-tuned model file says about itself: the task, how outputs are read, how inputs are tokenized,
/// and where it came from. One record, written with the same keys and values (<see cref="ModelFileFormat"/>) into
/// an ONNX file's <c>metadata_props</c> and into a <c>model.zip</c>'s <c>model-card.json</c>, and read back by every
/// consumer (ONNX inference, the ML.NET transformer, the server, the console).
/// </summary>
/// <remarks>
/// The tokenizer's vocabulary is payload, not card: ONNX files carry it in <see cref="ModelFileFormat.VocabKey"/>
/// (and the NAS-BERT BPE keys), a <c>model.zip</c> in its <c>vocab.txt</c> entry.
/// </remarks>
public sealed record ModelCard
{
    /// <summary>The task's name (<c>mlnetbert.task</c>), one of <see cref="InferenceTasks.Names"/>.</summary>
    public required string Task { get; init; }

    /// <summary>Label names in output order (<c>mlnetbert.labels</c>, a JSON array); empty for tasks without labels.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>How the head reads the last hidden state (<c>mlnetbert.pooling</c>): <c>mean</c> (the default, as training) or <c>cls</c>.</summary>
    public string Pooling { get; init; } = PoolingMean;

    /// <summary>Similarity: score = head output × scale + offset (<c>mlnetbert.score_scale</c>, default 1).</summary>
    public float ScoreScale { get; init; } = 1f;

    /// <summary>Similarity: added after scaling (<c>mlnetbert.score_offset</c>, default 0).</summary>
    public float ScoreOffset { get; init; }

    /// <summary>Inputs are truncated to this many tokens, special tokens included (<c>mlnetbert.max_length</c>, default 128).</summary>
    public int MaxLength { get; init; } = 128;

    /// <summary>Tokenizer kind (<c>mlnetbert.tokenizer</c>): <see cref="ModelFileFormat.WordPieceTokenizer"/> (default) or <see cref="ModelFileFormat.RobertaBpeTokenizer"/>.</summary>
    public string Tokenizer { get; init; } = ModelFileFormat.WordPieceTokenizer;

    /// <summary>WordPiece: whether the tokenizer lower-cases and strips accents (<c>mlnetbert.lower_case</c>, default true).</summary>
    public bool LowerCase { get; init; } = true;

    /// <summary>The pretrained checkpoint fine-tuned (<c>mlnetbert.checkpoint</c>), for example <c>minilm-l6</c>.</summary>
    public string Checkpoint { get; init; } = "";

    /// <summary>SHA-256 of the checkpoint's weights (<c>mlnetbert.checkpoint_sha256</c>); empty when unknown.</summary>
    public string CheckpointSha256 { get; init; } = "";

    /// <summary>The text column the model was trained on (<c>mlnetbert.text_column</c>, default <c>Text</c>).</summary>
    public string TextColumn { get; init; } = "Text";

    /// <summary>The second text column for pair tasks (<c>mlnetbert.text2_column</c>); null for one-text tasks.</summary>
    public string? Text2Column { get; init; }

    /// <summary>
    /// Sentence embedding: the vector's length (<c>mlnetbert.embedding_dim</c>), the encoder's hidden size; 0 (and not
    /// written) for other tasks.
    /// </summary>
    public int EmbeddingDimension { get; init; }

    /// <summary>
    /// Sentence embedding: whether vectors are L2-normalised (<c>mlnetbert.normalize</c>), so a dot product is the
    /// cosine similarity. Written only with <see cref="EmbeddingDimension"/>; default false when absent.
    /// </summary>
    public bool Normalize { get; init; }

    /// <summary>Training metrics, each under <c>mlnetbert.metric.&lt;name&gt;</c>.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>The MlNetBert version that wrote the file (<c>mlnetbert.project_version</c>).</summary>
    public string ProjectVersion { get; init; } = CurrentProjectVersion;

    /// <summary>ONNX only: the form of the network (<c>mlnetbert.variant</c>): fp32, optimized, int8, fp16...; fp32 when absent.</summary>
    public string Variant { get; init; } = "fp32";

    /// <summary>
    /// How many member networks an ensemble averages (<c>mlnetbert.ensemble_members</c>); 0 for a single model, whose
    /// file then has no such entry.
    /// </summary>
    public int EnsembleMembers { get; init; }

    /// <summary>The default pooling value.</summary>
    public const string PoolingMean = "mean";

    /// <summary>[CLS] pooling.</summary>
    public const string PoolingCls = "cls";

    /// <summary>ML.NET NAS-BERT's head reads the first token (like <see cref="PoolingCls"/>, named as ML.NET does).</summary>
    public const string PoolingFirst = "first";

    /// <summary>The version of the assembly writing cards.</summary>
    public static string CurrentProjectVersion { get; } =
        typeof(ModelCard).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(ModelCard).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The task this card names, from the registry.</summary>
    public InferenceTask TaskDefinition => InferenceTasks.Get(Task, "model card");

    /// <summary>
    /// The card as metadata entries, sorted by key (ordinal) so files are reproducible. Keys and values are exactly
    /// what <see cref="FromMetadata"/> reads.
    /// </summary>
    public SortedDictionary<string, string> ToMetadata()
    {
        var invariant = CultureInfo.InvariantCulture;
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ModelFileFormat.TaskKey] = Task,
            [ModelFileFormat.LabelsKey] = JsonSerializer.Serialize(Labels),
            [ModelFileFormat.PoolingKey] = Pooling,
            [ModelFileFormat.ScoreScaleKey] = ScoreScale.ToString("R", invariant),
            [ModelFileFormat.ScoreOffsetKey] = ScoreOffset.ToString("R", invariant),
            [ModelFileFormat.MaxLengthKey] = MaxLength.ToString(invariant),
            [ModelFileFormat.TokenizerKey] = Tokenizer,
            [ModelFileFormat.LowerCaseKey] = LowerCase ? "true" : "false",
            [ModelFileFormat.CheckpointKey] = Checkpoint,
            [ModelFileFormat.CheckpointSha256Key] = CheckpointSha256,
            [ModelFileFormat.TextColumnKey] = TextColumn,
            [ModelFileFormat.FormatVersionKey] = ModelFileFormat.Version,
            [ModelFileFormat.ProjectVersionKey] = ProjectVersion,
            [ModelFileFormat.VariantKey] = Variant,
        };
        if (Text2Column is not null)
            map[ModelFileFormat.Text2ColumnKey] = Text2Column;
        // Only embedding models carry these, so the files of other tasks stay byte-for-byte what they were.
        if (EmbeddingDimension > 0)
        {
            map[ModelFileFormat.EmbeddingDimensionKey] = EmbeddingDimension.ToString(invariant);
            map[ModelFileFormat.NormalizeKey] = Normalize ? "true" : "false";
        }
        if (EnsembleMembers > 0)
            map[ModelFileFormat.EnsembleMembersKey] = EnsembleMembers.ToString(invariant);
        foreach (var (name, value) in Metrics)
            map[ModelFileFormat.MetricPrefix + name] = value.ToString("R", invariant);
        return map;
    }

    /// <summary>
    /// Reads a card from metadata entries (an ONNX file's <c>metadata_props</c> or a <c>model-card.json</c>). Keys this
    /// version does not know are ignored; missing optional keys take their defaults (files written before a key
    /// existed still load). Throws <see cref="BadInputException"/> naming <paramref name="source"/> and the key.
    /// </summary>
    public static ModelCard FromMetadata(IReadOnlyDictionary<string, string> map, string source)
    {
        if (!map.TryGetValue(ModelFileFormat.TaskKey, out var task))
            throw new BadInputException($"{source}: no '{ModelFileFormat.TaskKey}' entry, so not a model file written by MlNetBert");
        var definition = InferenceTasks.Get(task, $"{source}: '{ModelFileFormat.TaskKey}'");
        string version = map.GetValueOrDefault(ModelFileFormat.FormatVersionKey) ?? "(missing)";
        if (version != ModelFileFormat.Version)
            throw new BadInputException($"{source}: model file format version {version} is not supported (this MlNetBert reads version {ModelFileFormat.Version})");
        string tokenizer = map.GetValueOrDefault(ModelFileFormat.TokenizerKey) ?? ModelFileFormat.WordPieceTokenizer;
        if (!ModelFileFormat.Tokenizers.Contains(tokenizer))
            throw new BadInputException($"{source}: tokenizer '{tokenizer}' is not supported (expected one of: {string.Join(", ", ModelFileFormat.Tokenizers)})");
        string pooling = map.GetValueOrDefault(ModelFileFormat.PoolingKey) ?? PoolingMean;
        if (pooling is not (PoolingMean or PoolingCls or PoolingFirst))
            throw new BadInputException($"{source}: '{ModelFileFormat.PoolingKey}' is '{pooling}' (expected mean, cls or first)");
        var metrics = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (key, value) in map)
            if (key.StartsWith(ModelFileFormat.MetricPrefix, StringComparison.Ordinal)
                && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double metric))
                metrics[key[ModelFileFormat.MetricPrefix.Length..]] = metric;
        var card = new ModelCard
        {
            Task = task,
            Labels = ReadLabels(map, source),
            Pooling = pooling,
            ScoreScale = ReadFloat(map, ModelFileFormat.ScoreScaleKey, 1f, source),
            ScoreOffset = ReadFloat(map, ModelFileFormat.ScoreOffsetKey, 0f, source),
            MaxLength = ReadMaxLength(map, source),
            Tokenizer = tokenizer,
            LowerCase = ReadBool(map, ModelFileFormat.LowerCaseKey, tokenizer == ModelFileFormat.WordPieceTokenizer, source),
            Checkpoint = map.GetValueOrDefault(ModelFileFormat.CheckpointKey) ?? "",
            CheckpointSha256 = map.GetValueOrDefault(ModelFileFormat.CheckpointSha256Key) ?? "",
            TextColumn = map.GetValueOrDefault(ModelFileFormat.TextColumnKey) ?? "Text",
            Text2Column = map.GetValueOrDefault(ModelFileFormat.Text2ColumnKey),
            EmbeddingDimension = ReadEmbeddingDimension(map, source),
            Normalize = ReadBool(map, ModelFileFormat.NormalizeKey, false, source),
            Metrics = metrics,
            ProjectVersion = map.GetValueOrDefault(ModelFileFormat.ProjectVersionKey) ?? "",
            Variant = map.GetValueOrDefault(ModelFileFormat.VariantKey) ?? "fp32",
            EnsembleMembers = ReadEnsembleMembers(map, source),
        };
        definition.Validate(card, source);
        return card;
    }

    /// <summary>The card as a JSON object of the same entries as <see cref="ToMetadata"/> (a <c>model.zip</c>'s <c>model-card.json</c>).</summary>
    public string ToJson() => JsonSerializer.Serialize(ToMetadata(), JsonOptions);

    /// <summary>Reads <see cref="ToJson"/>'s output; errors name <paramref name="source"/>.</summary>
    public static ModelCard FromJson(string json, string source)
    {
        Dictionary<string, string>? map;
        try
        {
            map = JsonSerializer.Deserialize<Dictionary<string, string>>(json);
        }
        catch (JsonException ex)
        {
            throw new BadInputException($"{source}: not a JSON object of string entries ({ex.Message})", ex);
        }
        return FromMetadata(map ?? throw new BadInputException($"{source}: empty"), source);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private static IReadOnlyList<string> ReadLabels(IReadOnlyDictionary<string, string> map, string source)
    {
        string json = map.GetValueOrDefault(ModelFileFormat.LabelsKey) ?? "[]";
        try
        {
            return JsonSerializer.Deserialize<string[]>(json) ?? [];
        }
        catch (JsonException ex)
        {
            throw new BadInputException($"{source}: '{ModelFileFormat.LabelsKey}' is not a JSON array of strings ({ex.Message})", ex);
        }
    }

    private static int ReadMaxLength(IReadOnlyDictionary<string, string> map, string source)
    {
        string? text = map.GetValueOrDefault(ModelFileFormat.MaxLengthKey);
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 2)
            throw new BadInputException($"{source}: '{ModelFileFormat.MaxLengthKey}' is '{text ?? "(missing)"}' (expected a whole number of at least 2)");
        return value;
    }

    private static int ReadEmbeddingDimension(IReadOnlyDictionary<string, string> map, string source)
    {
        if (!map.TryGetValue(ModelFileFormat.EmbeddingDimensionKey, out var text))
            return 0;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 1)
            throw new BadInputException($"{source}: '{ModelFileFormat.EmbeddingDimensionKey}' is '{text}' (expected a whole number of at least 1)");
        return value;
    }

    private static int ReadEnsembleMembers(IReadOnlyDictionary<string, string> map, string source)
    {
        if (!map.TryGetValue(ModelFileFormat.EnsembleMembersKey, out var text))
            return 0;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 2)
            throw new BadInputException($"{source}: '{ModelFileFormat.EnsembleMembersKey}' is '{text}' (expected a whole number of at least 2)");
        return value;
    }

    private static float ReadFloat(IReadOnlyDictionary<string, string> map, string key, float fallback, string source)
    {
        if (!map.TryGetValue(key, out var text))
            return fallback;
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) || !float.IsFinite(value))
            throw new BadInputException($"{source}: '{key}' is '{text}' (expected a finite number)");
        return value;
    }

    private static bool ReadBool(IReadOnlyDictionary<string, string> map, string key, bool fallback, string source) =>
        map.GetValueOrDefault(key) switch
        {
            null => fallback,
            "true" => true,
            "false" => false,
            var other => throw new BadInputException($"{source}: '{key}' is '{other}' (expected true or false)"),
        };
}
