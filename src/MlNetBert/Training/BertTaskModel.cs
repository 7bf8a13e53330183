using MlNetBert.Inference;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using MlNetBert.Checkpoints;
using MlNetBert.Modeling;
using MlNetBert.Tokenization;
using static TorchSharp.torch;

namespace MlNetBert.Training;

/// <summary>What a fine-tuned model predicts and how its outputs are read; stored next to the weights.</summary>
public sealed record BertTaskInfo
{
    [JsonPropertyName("task")] public BertTask Task { get; init; }
    [JsonPropertyName("labels")] public IReadOnlyList<string> Labels { get; init; } = [];
    [JsonPropertyName("pooling")] public Pooling Pooling { get; init; }
    [JsonPropertyName("score_scale")] public float ScoreScale { get; init; } = 1;
    [JsonPropertyName("score_offset")] public float ScoreOffset { get; init; }
    [JsonPropertyName("max_length")] public int MaxLength { get; init; } = 128;
    [JsonPropertyName("checkpoint")] public string Checkpoint { get; init; } = "";
    [JsonPropertyName("checkpoint_sha256")] public string CheckpointSha256 { get; init; } = "";
    [JsonPropertyName("lower_case")] public bool LowerCase { get; init; } = true;
    [JsonPropertyName("text_column")] public string TextColumn { get; init; } = "Text";
    [JsonPropertyName("text2_column")] public string? Text2Column { get; init; }
    [JsonPropertyName("metrics")] public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    [JsonIgnore] public int Outputs => Task == BertTask.SentenceSimilarity ? 1 : Labels.Count;
}

/// <summary>Predictions of a batch: probabilities per row (classification) or one score per row (similarity).</summary>
public sealed record BertPredictions(float[][]? Probabilities, float[]? Scores);

/// <summary>
/// A fine-tuned BERT model with its task description and tokenizer: predicts in batches and saves to / loads from
/// one file (a zip holding <c>mlnetbert-model.json</c>, <c>config.json</c>, <c>vocab.txt</c>, <c>model.safetensors</c>).
/// </summary>
public sealed class BertTaskModel : IDisposable
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };
    private readonly Lock _gate = new();

    public BertTaskModel(BertClassifier network, BertTaskInfo info, BertConfig config, string vocabText)
    {
        Network = network;
        Info = info;
        Config = config;
        VocabText = vocabText;
        using var vocab = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(vocabText));
        Encoder = BertTextEncoder.FromVocab(vocab, info.LowerCase);
        network.eval();
    }

    public BertClassifier Network { get; }

    public BertTaskInfo Info { get; private set; }

    /// <summary>Records the training metrics (validation results) that saving writes into the model card.</summary>
    public void RecordMetrics(IReadOnlyDictionary<string, double> metrics) => Info = Info with { Metrics = metrics };

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
            rows[i] = Encoder.Encode(texts[i], texts2?[i], Info.MaxLength);
        lock (_gate) // TorchSharp modules are not safe for concurrent forward passes with train/eval switching
            return Predictor.Logits(Network, rows, batchSize);
    }

    /// <summary>Probabilities (softmax of logits) or scores on the label's scale.</summary>
    public BertPredictions Predict(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2 = null, int batchSize = 64)
    {
        var logits = PredictLogits(texts, texts2, batchSize);
        if (Info.Task == BertTask.SentenceSimilarity)
            return new BertPredictions(null, logits.Select(l => l[0] * Info.ScoreScale + Info.ScoreOffset).ToArray());
        return new BertPredictions(logits.Select(Scores.Softmax).ToArray(), null);
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
            Text(InfoEntry, JsonSerializer.Serialize(Info, Json));
            Text("config.json", JsonSerializer.Serialize(Config, Json));
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
            if (zip.GetEntry(InfoEntry) is not null)
                return Read(zip, path);
            var nested = zip.Entries.Where(e => e.Name == MlNet.MlNetModelStore.PayloadStreamName).ToList();
            if (nested.Count == 0)
                throw new BadInputException($"{path}: not an MlNetBert model (no {InfoEntry} inside, and not an ML.NET model holding a BertTransformer)");
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

    private const string InfoEntry = "mlnetbert-model.json";

    private static BertTaskModel Read(ZipArchive zip, string path)
    {
        string ReadText(string name)
        {
            var entry = zip.GetEntry(name) ?? throw new BadInputException($"{path}: not an MlNetBert model (no {name} inside)");
            using var r = new StreamReader(entry.Open());
            return r.ReadToEnd();
        }
        var info = JsonSerializer.Deserialize<BertTaskInfo>(ReadText(InfoEntry), Json)
            ?? throw new BadInputException($"{path}: {InfoEntry} is empty");
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
            var network = new BertClassifier(config, info.Outputs, info.Pooling);
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
                return new BertTaskModel(network, info, config, vocab);
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
