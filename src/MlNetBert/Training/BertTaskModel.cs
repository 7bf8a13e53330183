using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using MlNetBert.Checkpoints;
using MlNetBert.Inference;
using MlNetBert.Tasks;
using MlNetBert.Modeling;
using MlNetBert.Tokenization;
using static TorchSharp.torch;

namespace MlNetBert.Training;

/// <summary>
/// The model card of files written before <c>model-card.json</c> (entry <c>mlnetbert-model.json</c>, enum names such
/// as <c>TextClassification</c>/<c>Mean</c>); read only, to load those files.
/// </summary>
internal sealed record LegacyTaskInfo
{
    [JsonPropertyName("task")] public string Task { get; init; } = "";
    [JsonPropertyName("labels")] public IReadOnlyList<string> Labels { get; init; } = [];
    [JsonPropertyName("pooling")] public string Pooling { get; init; } = "Mean";
    [JsonPropertyName("score_scale")] public float ScoreScale { get; init; } = 1;
    [JsonPropertyName("score_offset")] public float ScoreOffset { get; init; }
    [JsonPropertyName("max_length")] public int MaxLength { get; init; } = 128;
    [JsonPropertyName("checkpoint")] public string Checkpoint { get; init; } = "";
    [JsonPropertyName("checkpoint_sha256")] public string CheckpointSha256 { get; init; } = "";
    [JsonPropertyName("lower_case")] public bool LowerCase { get; init; } = true;
    [JsonPropertyName("text_column")] public string TextColumn { get; init; } = "Text";
    [JsonPropertyName("text2_column")] public string? Text2Column { get; init; }
    [JsonPropertyName("metrics")] public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    public ModelCard ToCard(string source) => new()
    {
        Task = Task switch
        {
            "TextClassification" => ClassificationTask.TextName,
            "PairClassification" => ClassificationTask.PairName,
            "SentenceSimilarity" => SentenceSimilarityTask.TaskName,
            _ => throw new BadInputException($"{source}: unknown task '{Task}' (expected TextClassification, PairClassification or SentenceSimilarity)"),
        },
        Labels = Labels,
        Pooling = Pooling.Equals("Cls", StringComparison.OrdinalIgnoreCase) ? ModelCard.PoolingCls : ModelCard.PoolingMean,
        ScoreScale = ScoreScale,
        ScoreOffset = ScoreOffset,
        MaxLength = MaxLength,
        Checkpoint = Checkpoint,
        CheckpointSha256 = CheckpointSha256,
        LowerCase = LowerCase,
        TextColumn = TextColumn,
        Text2Column = Text2Column,
        Metrics = Metrics,
        ProjectVersion = "",
    };
}

/// <summary>
/// A fine-tuned BERT model with its task description and tokenizer: predicts in batches and saves to / loads from
/// one file (a zip holding <c>model-card.json</c>, <c>config.json</c>, <c>vocab.txt</c>, <c>model.safetensors</c>).
/// </summary>
public sealed class BertTaskModel : IDisposable, IBertPredictor
{
    private readonly Lock _gate = new();

    public BertTaskModel(BertClassifier network, ModelCard card, BertConfig config, string vocabText)
    {
        Network = network;
        Card = card;
        Task = TrainingTasks.Get(card.Task, "model card");
        Config = config;
        VocabText = vocabText;
        using var vocab = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(vocabText));
        Encoder = BertTextEncoder.FromVocab(vocab, card.LowerCase);
        network.eval();
    }

    public BertClassifier Network { get; }

    /// <summary>What the model is: task, labels, pooling, tokenizer settings, provenance and training metrics.</summary>
    public ModelCard Card { get; private set; }

    /// <summary>The task's training side (head, loss, outputs, metrics).</summary>
    public TrainingTask Task { get; }

    /// <summary>The task's inference side.</summary>
    public InferenceTask TaskDefinition => Task.Inference;

    /// <summary>Records the training metrics (validation results) that saving writes into the model card.</summary>
    public void RecordMetrics(IReadOnlyDictionary<string, double> metrics) => Card = Card with { Metrics = metrics };

    public BertConfig Config { get; }

    public string VocabText { get; }

    public BertTextEncoder Encoder { get; }

    /// <summary>Training history when this instance was trained in this process (not saved).</summary>
    public TrainingHistory? History { get; internal set; }

    /// <summary>Raw head outputs, in input order (batched by length internally).</summary>
    public float[][] PredictLogits(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2 = null, int batchSize = 64)
    {
        var rows = new EncodedText[texts.Count];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = Encoder.Encode(texts[i], texts2?[i], Card.MaxLength);
        lock (_gate) // TorchSharp modules are not safe for concurrent forward passes with train/eval switching
            return Predictor.Logits(Network, rows, batchSize);
    }

    /// <summary>Predictions in input order, decoded by the task exactly as the exported ONNX file's outputs are.</summary>
    public IReadOnlyList<Prediction> PredictBatch(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2 = null, int batchSize = 64)
    {
        if (Task.TokenLevel)
        {
            return TaskDefinition.PredictTokenLevel(texts, texts2, Encoder, Card, inputs =>
            {
                lock (_gate)
                    return Predictor.Logits(Network, inputs, batchSize).Select(l => (IReadOnlyList<float[]>)Task.GraphOutputs(l, Card)).ToArray();
            });
        }
        var logits = PredictLogits(texts, texts2, batchSize);
        return logits.Select(l => TaskDefinition.Decode(Task.GraphOutputs(l, Card), Card)).ToArray();
    }

    /// <summary>Every parameter as a tensor: the encoder under HuggingFace names, the head as classifier.weight/bias.</summary>
    public Dictionary<string, TensorData> ExportTensors()
    {
        var result = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (name, p) in Network.named_parameters())
        {
            string key = name.StartsWith("bert.", StringComparison.Ordinal) ? name["bert.".Length..] : name;
            using var cpu = p.detach().cpu().contiguous();
            result[key] = new TensorData(key, p.shape, cpu.data<float>().ToArray());
        }
        return result;
    }

    /// <summary>Saves to one zip file, atomically.</summary>
    public void Save(string path) => AtomicFile.Write(path, WriteTo);

    /// <summary>Writes the zip that <see cref="Save"/> puts in a file to <paramref name="stream"/> (which may be write-only).</summary>
    public void WriteTo(Stream stream)
    {
        var tensors = ExportTensors();
        string weights = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}.safetensors");
        try
        {
            Safetensors.Write(weights, tensors.Values);
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            void Text(string name, string text)
            {
                var entry = zip.CreateEntry(name, CompressionLevel.Optimal);
                entry.LastWriteTime = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
                using var w = new StreamWriter(entry.Open());
                w.Write(text);
            }
            Text(CardEntry, Card.ToJson());
            Text("config.json", JsonSerializer.Serialize(Config, ConfigJson));
            Text("vocab.txt", VocabText);
            var weightsEntry = zip.CreateEntry("model.safetensors", CompressionLevel.NoCompression);
            weightsEntry.LastWriteTime = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);
            using var target = weightsEntry.Open();
            using var source = File.OpenRead(weights);
            source.CopyTo(target);
        }
        finally
        {
            File.Delete(weights);
        }
    }

    /// <summary>
    /// Loads a model saved by <see cref="Save"/>, or the one <c>BertTransformer</c> inside an ML.NET model .zip written
    /// by <c>mlContext.Model.Save</c> (what <c>mlnetbert train</c> writes); errors name the file and what is wrong.
    /// </summary>
    public static BertTaskModel Load(string path)
    {
        if (!File.Exists(path))
            throw new BadInputException($"{path}: model file not found");
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException ex)
        {
            throw new BadInputException($"{path}: not an MlNetBert model (not a zip file)", ex);
        }
        using (zip)
        {
            if (zip.GetEntry(CardEntry) is not null || zip.GetEntry(LegacyInfoEntry) is not null)
                return Read(zip, path);
            var nested = zip.Entries.Where(e => e.Name == MlNet.MlNetModelStore.PayloadStreamName).ToList();
            if (nested.Count == 0)
                throw new BadInputException($"{path}: not an MlNetBert model (no {CardEntry} inside, and not an ML.NET model holding a BertTransformer)");
            if (nested.Count > 1)
                throw new BadInputException($"{path}: an ML.NET model with {nested.Count} MlNetBert transformers; load it with mlContext.Model.Load");
            string name = $"{path}!{nested[0].FullName}";
            ZipArchive inner;
            try
            {
                inner = new ZipArchive(nested[0].Open(), ZipArchiveMode.Read);
            }
            catch (InvalidDataException ex)
            {
                throw new BadInputException($"{name}: not a TorchSharp BertTransformer (an ONNX model from ApplyBertOnnxModel?); load the .zip with mlContext.Model.Load", ex);
            }
            using (inner)
                return Read(inner, name);
        }
    }

    private const string CardEntry = "model-card.json";

    // Files written before the unified model card hold this entry instead (see LegacyTaskInfo).
    private const string LegacyInfoEntry = "mlnetbert-model.json";

    private static readonly JsonSerializerOptions ConfigJson = new() { WriteIndented = true };

    private static BertTaskModel Read(ZipArchive zip, string path)
    {
        string ReadText(string name)
        {
            var entry = zip.GetEntry(name) ?? throw new BadInputException($"{path}: not an MlNetBert model (no {name} inside)");
            using var r = new StreamReader(entry.Open());
            return r.ReadToEnd();
        }
        var card = zip.GetEntry(CardEntry) is not null
            ? ModelCard.FromJson(ReadText(CardEntry), $"{path}!{CardEntry}")
            : (JsonSerializer.Deserialize<LegacyTaskInfo>(ReadText(LegacyInfoEntry)) ?? throw new BadInputException($"{path}: {LegacyInfoEntry} is empty"))
                .ToCard($"{path}!{LegacyInfoEntry}");
        var task = TrainingTasks.Get(card.Task, path);
        var config = JsonSerializer.Deserialize<BertConfig>(ReadText("config.json"))
            ?? throw new BadInputException($"{path}: config.json is empty");
        config.Validate($"{path}!config.json");
        string vocab = ReadText("vocab.txt");
        string weights = Path.Combine(Path.GetTempPath(), $"mlnetbert-{Guid.NewGuid():N}.safetensors");
        try
        {
            var entry = zip.GetEntry("model.safetensors") ?? throw new BadInputException($"{path}: not an MlNetBert model (no model.safetensors inside)");
            using (var source = entry.Open())
            using (var target = File.Create(weights))
                source.CopyTo(target);
            var tensors = Safetensors.Read(weights);
            var renamed = tensors.ToDictionary(kv => kv.Key.StartsWith("classifier.", StringComparison.Ordinal) ? kv.Key : "bert." + kv.Key, kv => kv.Value);
            var network = new BertClassifier(config, task.HeadOutputs(card), PoolingNames.Parse(card.Pooling), task.TokenLevel);
            try
            {
                using (no_grad())
                {
                    foreach (var (name, p) in network.named_parameters())
                    {
                        if (!renamed.TryGetValue(name, out var t) || !t.Shape.SequenceEqual(p.shape))
                            throw new BadInputException($"{path}: tensor '{name}' is missing or has the wrong shape");
                        using var source = tensor(t.Data, t.Shape);
                        p.copy_(source);
                    }
                }
                return new BertTaskModel(network, card, config, vocab);
            }
            catch
            {
                network.Dispose();
                throw;
            }
        }
        finally
        {
            File.Delete(weights);
        }
    }

    public void Dispose() => Network.Dispose();
}
