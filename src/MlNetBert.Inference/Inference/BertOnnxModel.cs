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
public sealed class BertOnnxModel : IBertPredictor
{
    private readonly InferenceSession _session;
    private readonly ITextEncoder _encoder;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private bool _disposed;

    private BertOnnxModel(InferenceSession session, ITextEncoder encoder, ModelCard card, string path, string provider)
    {
        _session = session;
        _encoder = encoder;
        // ML.NET NAS-BERT graphs read only input_ids (padding is id 1); BERT graphs read all three inputs.
        _inputNames = encoder is RobertaBpeTextEncoder
            ? [ModelFileFormat.InputIds]
            : [ModelFileFormat.InputIds, ModelFileFormat.AttentionMask, ModelFileFormat.TokenTypeIds];
        Path = path;
        ExecutionProvider = provider;
        Metadata = new SortedDictionary<string, string>(session.ModelMetadata.CustomMetadataMap, StringComparer.Ordinal);
        Card = card;
        TaskDefinition = card.TaskDefinition;
        _outputNames = [.. TaskDefinition.OutputNames];
        CheckSignature(path);
    }

    /// <summary>The file this model was loaded from.</summary>
    public string Path { get; }

    /// <summary>What the file says about itself: task, labels, tokenizer settings, provenance, training metrics.</summary>
    public ModelCard Card { get; }

    /// <summary>The task (from <see cref="InferenceTasks"/>): how outputs become predictions and how they are shown.</summary>
    public InferenceTask TaskDefinition { get; }

    /// <summary>The task's name, for example <c>text-classification</c>.</summary>
    public string Task => Card.Task;

    /// <summary>Label names in output order; empty for tasks without labels.</summary>
    public IReadOnlyList<string> Labels => Card.Labels;

    /// <summary>Inputs are truncated to this many tokens, [CLS] and [SEP] included.</summary>
    public int MaxLength => Card.MaxLength;

    /// <summary>The pretrained checkpoint the model was fine-tuned from.</summary>
    public string Checkpoint => Card.Checkpoint;

    /// <summary>The file's whole metadata (task, labels, vocabulary, training metrics...), sorted by key.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// Which form of the network the file holds (<see cref="ModelFileFormat.VariantKey"/>): <c>fp32</c>, <c>optimized</c>,
    /// <c>int8</c>, <c>optimized-int8</c>, <c>fp16</c> or <c>optimized-fp16</c>; <c>fp32</c> for files without the key.
    /// </summary>
    public string Variant => Card.Variant;

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
        using var sessionOptions = OnnxSessions.CreateOptions(options, out string provider);
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
            if (!map.ContainsKey(ModelFileFormat.TaskKey))
                throw new BadInputException($"{path}: an ONNX model without '{ModelFileFormat.TaskKey}' metadata, so not a model file written by MlNetBert's ONNX export");
            var card = ModelCard.FromMetadata(map, path);
            ITextEncoder encoder = card.Tokenizer == ModelFileFormat.RobertaBpeTokenizer ? RobertaBpe(path, map) : WordPiece(path, map, card.LowerCase);
            return new BertOnnxModel(session, encoder, card, path, provider);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static BertTextEncoder WordPiece(string path, IReadOnlyDictionary<string, string> map, bool lowerCase)
    {
        string vocab = Required(path, map, ModelFileFormat.VocabKey);
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

    /// <summary>Encodes one input with the file's tokenizer and maximum length (what <see cref="PredictBatch"/> feeds the graph).</summary>
    public EncodedText Encode(string text, string? text2 = null) => _encoder.Encode(text, text2, MaxLength);

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
        bool pair = TaskDefinition.ReadsPair;
        if (pair && texts2 is null)
            throw new BadInputException($"{Path}: task '{Task}' reads two texts per row, but only one was given");
        if (!pair && texts2 is not null)
            throw new BadInputException($"{Path}: task '{Task}' reads one text per row, but two were given");
        if (texts2 is not null && texts2.Count != texts.Count)
            throw new ArgumentException($"texts has {texts.Count} rows but texts2 has {texts2.Count}", nameof(texts2));

        if (TaskDefinition.TokenLevel)
            return TaskDefinition.PredictTokenLevel(texts, texts2, (BertTextEncoder)_encoder, Card, inputs => RunTokenLevel(inputs, batchSize));

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

    /// <summary>
    /// Question answering: the best <paramref name="topK"/> answers to <paramref name="question"/> in
    /// <paramref name="context"/>, most likely first, each cut from <paramref name="context"/> by character offsets
    /// (<c>context[Start..End]</c>) with its probability among the candidate spans; empty when no span qualifies.
    /// </summary>
    /// <exception cref="BadInputException">The model is not a question-answering model, or the question or context is empty.</exception>
    public IReadOnlyList<Answer> Answer(string question, string context, int topK = 1, int batchSize = 32)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(context);
        if (TaskDefinition is not QuestionAnsweringTask qa)
            throw new BadInputException($"{Path}: a '{Task}' model does not answer questions (expected a '{QuestionAnsweringTask.TaskName}' model)");
        return qa.Answer(question, context, topK, (BertTextEncoder)_encoder, Card, inputs => RunTokenLevel(inputs, batchSize));
    }

    /// <summary>
    /// The vectors of <paramref name="texts"/>, in input order, from a <c>sentence-embedding</c> model (batched and
    /// length-sorted as <see cref="PredictBatch"/>). Throws <see cref="BadInputException"/> naming the file when the
    /// model is of another task, so a classifier is never mistaken for an encoder.
    /// </summary>
    /// <example>
    /// <code>
    /// using var model = BertOnnxModel.Load("minilm-embed.onnx");
    /// var v = model.Embed(["A man is playing a guitar.", "Someone plays music."]);
    /// double cosine = SentenceEmbeddingTask.Cosine(v[0], v[1]);
    /// </code>
    /// </example>
    public float[][] Embed(IReadOnlyList<string> texts, int batchSize = 32)
    {
        if (TaskDefinition is not SentenceEmbeddingTask)
            throw new BadInputException($"{Path}: a '{Task}' model does not produce embeddings (expected a '{SentenceEmbeddingTask.TaskName}' model, whose card has '{ModelFileFormat.EmbeddingDimensionKey}')");
        return PredictBatch(texts, null, batchSize).Select(p => p.Embedding!).ToArray();
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
        var widths = TaskDefinition.OutputWidths(Card);
        var predictions = new Prediction[batch.BatchSize];
        var rowOutputs = new float[outputs.Count][];
        for (int r = 0; r < predictions.Length; r++)
        {
            for (int o = 0; o < rowOutputs.Length; o++)
                rowOutputs[o] = outputs[o].GetTensorDataAsSpan<float>().Slice(r * widths[o], widths[o]).ToArray();
            predictions[r] = TaskDefinition.Decode(rowOutputs, Card);
        }
        return predictions;
    }

    /// <summary>
    /// Token-level tasks: runs encoded inputs (length-sorted batches) and returns, per input, each graph output's values
    /// at its real tokens ([tokens, width] row-major, padding cut off), in input order. Export checks compare these.
    /// </summary>
    public IReadOnlyList<IReadOnlyList<float[]>> RunTokenOutputs(IReadOnlyList<EncodedText> inputs, int batchSize = 32)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(inputs);
        if (!TaskDefinition.TokenLevel)
            throw new InvalidOperationException($"{Path}: task '{Task}' has no per-token outputs");
        return RunTokenLevel(inputs, batchSize);
    }

    // Per input, each output's values at its real tokens ([tokens, width] row-major): padding positions are cut off.
    private float[][][] RunTokenLevel(IReadOnlyList<EncodedText> inputs, int batchSize)
    {
        int[] order = Enumerable.Range(0, inputs.Count).OrderBy(i => inputs[i].Length).ToArray();
        var widths = TaskDefinition.OutputWidths(Card);
        var results = new float[inputs.Count][][];
        for (int start = 0; start < order.Length; start += batchSize)
        {
            int[] rows = order[start..Math.Min(start + batchSize, order.Length)];
            var batch = _encoder.Pad(rows.Select(r => inputs[r]).ToArray());
            long[] shape = [batch.BatchSize, batch.SequenceLength];
            using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIds, shape);
            using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMask, shape);
            using var types = OrtValue.CreateTensorValueFromMemory(batch.TokenTypeIds, shape);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, _inputNames, [ids, mask, types], _outputNames);
            for (int r = 0; r < rows.Length; r++)
            {
                int tokens = inputs[rows[r]].Length;
                results[rows[r]] = new float[outputs.Count][];
                for (int o = 0; o < outputs.Count; o++)
                {
                    int rowSize = batch.SequenceLength * widths[o];
                    results[rows[r]][o] = outputs[o].GetTensorDataAsSpan<float>().Slice(r * rowSize, tokens * widths[o]).ToArray();
                }
            }
        }
        return results;
    }

    private void CheckSignature(string path)
    {
        foreach (var input in _inputNames)
            if (!_session.InputMetadata.ContainsKey(input))
                throw new BadInputException($"{path}: the graph has no input '{input}' (inputs: {string.Join(", ", _session.InputMetadata.Keys)})");
        foreach (var output in _outputNames)
            if (!_session.OutputMetadata.ContainsKey(output))
                throw new BadInputException($"{path}: task '{Task}' needs graph output '{output}' (outputs: {string.Join(", ", _session.OutputMetadata.Keys)})");
    }

    internal static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
