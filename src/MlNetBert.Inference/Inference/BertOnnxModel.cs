using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using MlNetBert.Tokenization;

namespace MlNetBert.Inference;

/// <summary>
/// A fine-tuned MlNetBert model loaded from one self-describing ONNX file: the file's metadata says the task, labels,
/// tokenizer vocabulary, casing and maximum length, so nothing else is needed next to it.
/// </summary>
/// <remarks>
/// Owns one <see cref="InferenceSession"/> (native memory) until <see cref="Dispose"/>. All prediction methods are
/// thread-safe: concurrent callers share the session, since ONNX Runtime's <c>Run</c> is safe to call concurrently.
/// </remarks>
/// <example>
/// <code>
/// using var model = BertOnnxModel.Load("runs/sst2/model.onnx");
/// var p = model.Predict("a gripping, beautifully shot film");
/// Console.WriteLine($"{p.Label} {p.Probabilities![1]:P1}");
/// </code>
/// </example>
public sealed class BertOnnxModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly ITextEncoder _encoder;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private bool _disposed;

    private BertOnnxModel(InferenceSession session, ITextEncoder encoder, string path, string provider)
    {
        _session = session;
        _encoder = encoder;
        // ML.NET NAS-BERT graphs read only input_ids (padding is id 1); BERT graphs read all three inputs.
        _inputNames = encoder is RobertaBpeTextEncoder
            ? [ModelFileFormat.InputIds]
            : [ModelFileFormat.InputIds, ModelFileFormat.AttentionMask, ModelFileFormat.TokenTypeIds];
        Path = path;
        ExecutionProvider = provider;
        var map = session.ModelMetadata.CustomMetadataMap;
        Metadata = new SortedDictionary<string, string>(map, StringComparer.Ordinal);
        Task = map[ModelFileFormat.TaskKey];
        Labels = ReadLabels(path, map);
        MaxLength = ReadInt(path, map, ModelFileFormat.MaxLengthKey);
        Checkpoint = map.GetValueOrDefault(ModelFileFormat.CheckpointKey) ?? "";
        _outputNames = Task == BertTasks.SentenceSimilarity ? [ModelFileFormat.Score] : [ModelFileFormat.Logits, ModelFileFormat.Probabilities];
        CheckSignature(path);
    }

    /// <summary>The file this model was loaded from.</summary>
    public string Path { get; }

    /// <summary>One of <see cref="BertTasks"/>.</summary>
    public string Task { get; }

    /// <summary>Label names in output order; empty for similarity.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Inputs are truncated to this many tokens, [CLS] and [SEP] included.</summary>
    public int MaxLength { get; }

    /// <summary>The pretrained checkpoint the model was fine-tuned from.</summary>
    public string Checkpoint { get; }

    /// <summary>The file's whole metadata (task, labels, vocabulary, training metrics...), sorted by key.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// Which form of the network the file holds (<see cref="ModelFileFormat.VariantKey"/>): <c>fp32</c>, <c>optimized</c>,
    /// <c>int8</c>, <c>optimized-int8</c>, <c>fp16</c> or <c>optimized-fp16</c>; <c>fp32</c> for files without the key.
    /// </summary>
    public string Variant => Metadata.GetValueOrDefault(ModelFileFormat.VariantKey) ?? "fp32";

    /// <summary>The execution provider the session actually uses: <c>"cpu"</c> or <c>"cuda"</c>.</summary>
    public string ExecutionProvider { get; }

    /// <summary>
    /// Loads a model file. Throws <see cref="BadInputException"/> naming the path when the file is missing, is not
    /// ONNX, is damaged, or is an ONNX model without MlNetBert metadata.
    /// </summary>
    public static BertOnnxModel Load(string path, BertOnnxOptions? options = null)
    {
        options ??= new BertOnnxOptions();
        options.Validate();
        if (!File.Exists(path))
            throw new BadInputException($"{path}: model file not found");
        using var sessionOptions = CreateSessionOptions(options, out string provider);
        InferenceSession session;
        try
        {
            session = new InferenceSession(path, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new BadInputException($"{path}: not a valid ONNX model, or the file is damaged ({FirstLine(ex.Message)})", ex);
        }
        try
        {
            var map = session.ModelMetadata.CustomMetadataMap;
            if (!map.TryGetValue(ModelFileFormat.TaskKey, out var task))
                throw new BadInputException($"{path}: an ONNX model without '{ModelFileFormat.TaskKey}' metadata, so not a model file written by MlNetBert's ONNX export");
            if (!BertTasks.All.Contains(task))
                throw new BadInputException($"{path}: unknown task '{task}' in '{ModelFileFormat.TaskKey}' (expected one of: {string.Join(", ", BertTasks.All)})");
            string version = map.GetValueOrDefault(ModelFileFormat.FormatVersionKey) ?? "(missing)";
            if (version != ModelFileFormat.Version)
                throw new BadInputException($"{path}: model file format version {version} is not supported (this MlNetBert reads version {ModelFileFormat.Version})");
            string tokenizer = map.GetValueOrDefault(ModelFileFormat.TokenizerKey) ?? "(missing)";
            ITextEncoder encoder = tokenizer switch
            {
                ModelFileFormat.WordPieceTokenizer => WordPiece(path, map),
                ModelFileFormat.RobertaBpeTokenizer => RobertaBpe(path, map),
                _ => throw new BadInputException($"{path}: tokenizer '{tokenizer}' is not supported (expected one of: {string.Join(", ", ModelFileFormat.Tokenizers)})"),
            };
            return new BertOnnxModel(session, encoder, path, provider);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static BertTextEncoder WordPiece(string path, IReadOnlyDictionary<string, string> map)
    {
        string vocab = Required(path, map, ModelFileFormat.VocabKey);
        bool lowerCase = (map.GetValueOrDefault(ModelFileFormat.LowerCaseKey) ?? "") switch
        {
            "true" => true,
            "false" => false,
            var other => throw new BadInputException($"{path}: '{ModelFileFormat.LowerCaseKey}' is '{other}' (expected true or false)"),
        };
        using var vocabStream = new MemoryStream(Encoding.UTF8.GetBytes(vocab));
        return BertTextEncoder.FromVocab(vocabStream, lowerCase);
    }

    private static RobertaBpeTextEncoder RobertaBpe(string path, IReadOnlyDictionary<string, string> map)
    {
        using var vocab = new MemoryStream(Encoding.UTF8.GetBytes(Required(path, map, ModelFileFormat.BpeVocabKey)));
        using var merges = new MemoryStream(Encoding.UTF8.GetBytes(Required(path, map, ModelFileFormat.BpeMergesKey)));
        using var dict = new MemoryStream(Encoding.UTF8.GetBytes(Required(path, map, ModelFileFormat.FairseqDictKey)));
        return RobertaBpeTextEncoder.FromStreams(vocab, merges, dict, path);
    }

    private static string Required(string path, IReadOnlyDictionary<string, string> map, string key) =>
        map.TryGetValue(key, out var value) && value.Length > 0 ? value : throw new BadInputException($"{path}: '{key}' metadata is missing or empty");

    /// <summary>Predicts one text, or one pair when the task reads two texts.</summary>
    public Prediction Predict(string text, string? text2 = null) =>
        PredictBatch([text], text2 is null ? null : [text2], batchSize: 1)[0];

    /// <summary>
    /// Predicts many texts (pairs when <paramref name="texts2"/> is given). Rows are sorted by token length and run
    /// <paramref name="batchSize"/> at a time, each batch padded only to its own longest row; results come back in
    /// the input order.
    /// </summary>
    public IReadOnlyList<Prediction> PredictBatch(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2 = null, int batchSize = 32)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        bool pair = BertTasks.IsPair(Task);
        if (pair && texts2 is null)
            throw new BadInputException($"{Path}: task '{Task}' reads two texts per row, but only one was given");
        if (!pair && texts2 is not null)
            throw new BadInputException($"{Path}: task '{Task}' reads one text per row, but two were given");
        if (texts2 is not null && texts2.Count != texts.Count)
            throw new ArgumentException($"texts has {texts.Count} rows but texts2 has {texts2.Count}", nameof(texts2));

        var encoded = new EncodedText[texts.Count];
        for (int i = 0; i < encoded.Length; i++)
            encoded[i] = _encoder.Encode(texts[i], texts2?[i], MaxLength);
        // Length-sorted batches waste little compute on padding; the stable sort keeps runs reproducible.
        int[] order = Enumerable.Range(0, encoded.Length).OrderBy(i => encoded[i].Length).ToArray();
        var results = new Prediction[encoded.Length];
        for (int start = 0; start < order.Length; start += batchSize)
        {
            int[] rows = order[start..Math.Min(start + batchSize, order.Length)];
            var predictions = Run(_encoder.Pad(rows.Select(r => encoded[r]).ToArray()));
            for (int i = 0; i < rows.Length; i++)
                results[rows[i]] = predictions[i];
        }
        return results;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _session.Dispose();
    }

    private Prediction[] Run(EncodedBatch batch)
    {
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
        using var types = OrtValue.CreateTensorValueFromMemory(batch.TokenTypeIds, shape);
        using var runOptions = new RunOptions();
        OrtValue[] inputs = _inputNames.Length == 1 ? [ids] : [ids, mask, types];
        using var outputs = _session.Run(runOptions, _inputNames, inputs, _outputNames);
        var predictions = new Prediction[batch.BatchSize];
        if (Task == BertTasks.SentenceSimilarity)
        {
            var scores = outputs[0].GetTensorDataAsSpan<float>();
            for (int r = 0; r < predictions.Length; r++)
                predictions[r] = new Prediction(null, null, null, scores[r]);
            return predictions;
        }
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        var probabilities = outputs[1].GetTensorDataAsSpan<float>();
        int n = Labels.Count;
        for (int r = 0; r < predictions.Length; r++)
        {
            float[] p = probabilities.Slice(r * n, n).ToArray();
            int best = 0;
            for (int j = 1; j < n; j++)
                if (p[j] > p[best])
                    best = j;
            predictions[r] = new Prediction(Labels[best], p, logits.Slice(r * n, n).ToArray(), null);
        }
        return predictions;
    }

    /// <summary>Builds session options for the requested provider, falling back to CPU (with one log line) when CUDA is unavailable.</summary>
    internal static SessionOptions CreateSessionOptions(BertOnnxOptions options, out string provider)
    {
        var sessionOptions = new SessionOptions();
        try
        {
            if (options.IntraOpThreads is int threads)
                sessionOptions.IntraOpNumThreads = threads;
            provider = "cpu";
            if (options.Provider == "cuda")
            {
                try
                {
                    sessionOptions.AppendExecutionProvider_CUDA(options.DeviceId);
                    provider = "cuda";
                }
                // The CPU-only runtime reports a missing provider as OnnxRuntimeException; missing CUDA libraries can
                // surface as DllNotFoundException or EntryPointNotFoundException, depending on which piece is absent.
                catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
                {
                    if (options.RequireCuda)
                        throw new BadInputException(
                            $"CUDA was required but the CUDA execution provider (device {options.DeviceId}) cannot be used: {FirstLine(ex.Message)}. " +
                            "Reference Microsoft.ML.OnnxRuntime.Gpu and install matching CUDA and cuDNN libraries, or allow CPU.", ex);
                    options.Log?.Invoke($"CUDA execution provider unavailable ({FirstLine(ex.Message)}); running on CPU");
                }
            }
            if (provider == "cpu")
                sessionOptions.AddSessionConfigEntry(BertOnnxOptions.DisabledOptimizersConfigKey, BertOnnxOptions.CpuDisabledOptimizers);
            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    private void CheckSignature(string path)
    {
        foreach (var input in _inputNames)
            if (!_session.InputMetadata.ContainsKey(input))
                throw new BadInputException($"{path}: the graph has no input '{input}' (inputs: {string.Join(", ", _session.InputMetadata.Keys)})");
        foreach (var output in _outputNames)
            if (!_session.OutputMetadata.ContainsKey(output))
                throw new BadInputException($"{path}: task '{Task}' needs graph output '{output}' (outputs: {string.Join(", ", _session.OutputMetadata.Keys)})");
        if (Task != BertTasks.SentenceSimilarity && Labels.Count == 0)
            throw new BadInputException($"{path}: task '{Task}' needs labels in '{ModelFileFormat.LabelsKey}'");
    }

    private static IReadOnlyList<string> ReadLabels(string path, IReadOnlyDictionary<string, string> map)
    {
        string json = map.GetValueOrDefault(ModelFileFormat.LabelsKey) ?? "[]";
        try
        {
            return JsonSerializer.Deserialize<string[]>(json) ?? [];
        }
        catch (JsonException ex)
        {
            throw new BadInputException($"{path}: '{ModelFileFormat.LabelsKey}' is not a JSON array of strings ({ex.Message})", ex);
        }
    }

    private static int ReadInt(string path, IReadOnlyDictionary<string, string> map, string key)
    {
        string? text = map.GetValueOrDefault(key);
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < 2)
            throw new BadInputException($"{path}: '{key}' is '{text ?? "(missing)"}' (expected a whole number of at least 2)");
        return value;
    }

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
