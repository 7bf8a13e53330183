using MlNetBert.Inference;

namespace MlNetBert.Export;

/// <summary>
/// What sits on top of the BERT encoder in a fine-tuned model, and what a model file must record to be used alone:
/// the task, how the last hidden state is pooled for the <c>classifier</c> layer, label names, score scaling,
/// and the tokenizer settings.
/// </summary>
/// <example>
/// <code>
/// var head = new BertHeadSpec
/// {
///     Task = BertTasks.TextClassification, Pooling = "cls", Labels = ["negative", "positive"],
///     MaxLength = 128, CheckpointName = "minilm-l6", LowerCase = true,
/// };
/// </code>
/// </example>
public sealed record BertHeadSpec
{
    /// <summary>One of <see cref="BertTasks"/>: text-classification, pair-classification or sentence-similarity.</summary>
    public required string Task { get; init; }

    /// <summary>How the classifier reads the last hidden state: <c>"cls"</c> (position 0, the default) or <c>"mean"</c> (mean over real tokens).</summary>
    public string Pooling { get; init; } = "cls";

    /// <summary>Label names in classifier output order (one per output); empty for sentence-similarity.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>Similarity only: score = logit * ScoreScale + ScoreOffset (default 1, for example 5 for STS-B trained on 0..1 labels).</summary>
    public float ScoreScale { get; init; } = 1f;

    /// <summary>Similarity only: added after scaling (default 0).</summary>
    public float ScoreOffset { get; init; }

    /// <summary>Maximum tokens per input, [CLS] and [SEP] included (default 128); at most the checkpoint's max_position_embeddings.</summary>
    public int MaxLength { get; init; } = 128;

    /// <summary>The pretrained checkpoint fine-tuned (provenance; for example "minilm-l6").</summary>
    public required string CheckpointName { get; init; }

    /// <summary>Whether the tokenizer lower-cases and strips accents: must match the checkpoint's vocabulary.</summary>
    public required bool LowerCase { get; init; }

    /// <summary>Throws <see cref="BadInputException"/> naming the first setting that does not fit the model.</summary>
    /// <param name="numOutputs">Rows of <c>classifier.weight</c>.</param>
    /// <param name="maxPositions">The encoder's max_position_embeddings.</param>
    internal void Validate(int numOutputs, int maxPositions)
    {
        if (!BertTasks.All.Contains(Task))
            throw new BadInputException($"head task '{Task}' is not supported (expected one of: {string.Join(", ", BertTasks.All)})");
        if (Pooling is not ("cls" or "mean"))
            throw new BadInputException($"head pooling '{Pooling}' is not supported (expected \"cls\" or \"mean\")");
        if (MaxLength < 3 || MaxLength > maxPositions)
            throw new BadInputException($"max length {MaxLength} is out of range (expected 3 to {maxPositions}, the checkpoint's max_position_embeddings)");
        if (string.IsNullOrWhiteSpace(CheckpointName))
            throw new BadInputException("head CheckpointName is empty (expected the name of the pretrained checkpoint, for example minilm-l6)");
        if (Task == BertTasks.SentenceSimilarity)
        {
            if (numOutputs != 1)
                throw new BadInputException($"task '{Task}' needs a classifier with 1 output, but classifier.weight has {numOutputs} rows");
            if (Labels.Count != 0)
                throw new BadInputException($"task '{Task}' has no labels, but {Labels.Count} were given");
            if (!float.IsFinite(ScoreScale) || !float.IsFinite(ScoreOffset))
                throw new BadInputException($"score scale {ScoreScale} and offset {ScoreOffset} must be finite numbers");
            return;
        }
        if (Labels.Count != numOutputs)
            throw new BadInputException($"task '{Task}': {Labels.Count} labels given, but classifier.weight has {numOutputs} rows (expected one label per row)");
        if (numOutputs < 2)
            throw new BadInputException($"task '{Task}' needs at least 2 labels, got {numOutputs}");
        var duplicate = Labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new BadInputException($"label '{duplicate.Key}' appears more than once (labels must be distinct)");
    }
}

/// <summary>Choices for <see cref="OnnxExporter.Export"/> beyond the model itself.</summary>
/// <example>
/// <code>
/// // A CPU deployment: fused ONNX Runtime ops and int8 weights.
/// var options = new OnnxExportOptions { Optimize = true, Quantize = OnnxQuantization.Int8 };
/// </code>
/// </example>
public sealed record OnnxExportOptions
{
    /// <summary>
    /// Also output <c>hidden_state_0</c> (embeddings) to <c>hidden_state_L</c> (each layer), [batch, sequence, hidden];
    /// for analysis and parity checks. Default false. When false and pooling is "cls", the last layer is computed for
    /// position 0 only, which is all the head reads.
    /// </summary>
    public bool IncludeHiddenStates { get; init; }

    /// <summary>
    /// Write the encoder with ONNX Runtime's fused transformer ops (EmbedLayerNormalization, Attention with packed
    /// QKV weights, BiasGelu/FastGelu; domain <c>com.microsoft</c>) instead of plain opset-17 ops. Faster in ONNX
    /// Runtime; other runtimes cannot load it. Default false.
    /// </summary>
    public bool Optimize { get; init; }

    /// <summary>
    /// <see cref="OnnxQuantization.Int8"/>: int8 weights for every encoder matrix product, activations quantized at run
    /// time (see <see cref="OnnxQuantizer"/>); for CPU. Default <see cref="OnnxQuantization.None"/>.
    /// </summary>
    public OnnxQuantization Quantize { get; init; }

    /// <summary>
    /// Float16 weights and compute, for CUDA (see <see cref="OnnxFloat16Converter"/>); inputs stay int64 and outputs
    /// float32. Runs on CPU too, slowly. Cannot be combined with <see cref="Quantize"/>. Default false.
    /// </summary>
    public bool Float16 { get; init; }

    /// <summary>
    /// A short name for the combination, written to the file's <c>mlnetbert.variant</c> metadata: <c>fp32</c>,
    /// <c>optimized</c>, <c>int8</c>, <c>optimized-int8</c>, <c>fp16</c> or <c>optimized-fp16</c>.
    /// </summary>
    public string VariantName
    {
        get
        {
            string precision = Quantize == OnnxQuantization.Int8 ? "int8" : Float16 ? "fp16" : "fp32";
            return Optimize ? (precision == "fp32" ? "optimized" : "optimized-" + precision) : precision;
        }
    }

    /// <summary>Throws <see cref="BadInputException"/> when the choices do not go together.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Quantize))
            throw new BadInputException($"quantization {Quantize} is not supported (expected None or Int8)");
        if (Float16 && Quantize != OnnxQuantization.None)
            throw new BadInputException("float16 and int8 quantization cannot be combined: int8 is for CPU, float16 for CUDA; choose one");
    }
}

/// <summary>Weight quantization of an exported model.</summary>
public enum OnnxQuantization
{
    /// <summary>Float weights (float32, or float16 with <see cref="OnnxExportOptions.Float16"/>).</summary>
    None,

    /// <summary>Dynamic int8 quantization: int8 weights, activations quantized per call (CPU).</summary>
    Int8,
}
