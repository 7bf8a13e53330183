using System.Globalization;
using System.Text.Json;
using Google.Protobuf;
using MlNetBert.Checkpoints;
using MlNetBert.Inference;
using MlNetBert.Tasks;
using Onnx;

namespace MlNetBert.Export;

/// <summary>
/// Writes a fine-tuned BERT model (encoder + classifier head) as one self-describing ONNX file: plain opset-17 ops
/// that any ONNX runtime can run, weights as initializers, and metadata with everything needed to tokenize inputs
/// and read outputs (see <see cref="ModelFileFormat"/>). <see cref="BertOnnxModel"/> loads it.
/// </summary>
/// <remarks>
/// The graph is written by hand from the known architecture (TorchSharp has no ONNX exporter). Weights keep their
/// HuggingFace names; projection weights are stored [in, out] for MatMul. The output is byte-for-byte reproducible:
/// no timestamps or random ids, metadata sorted by key. <see cref="OnnxExportOptions"/> selects a variant: ONNX
/// Runtime's fused ops (<see cref="OnnxExportOptions.Optimize"/>), int8 weights (<see cref="OnnxQuantizer"/>) or
/// float16 (<see cref="OnnxFloat16Converter"/>); every variant carries the same metadata plus <c>mlnetbert.variant</c>.
/// </remarks>
/// <example>
/// <code>
/// var card = new ModelCard { Task = ClassificationTask.TextName, Labels = ["negative", "positive"], Checkpoint = "minilm-l6" };
/// OnnxExporter.Export(checkpoint.Config, tensors, card, File.ReadAllText(checkpoint.VocabPath), "model.onnx",
///     new Dictionary&lt;string, string&gt; { ["run.seed"] = "42" });
/// </code>
/// </example>
public static class OnnxExporter
{
    /// <summary>The ONNX opset the graph uses (LayerNormalization needs 17).</summary>
    public const int Opset = 17;

    // IR version 8 is the one that came with opset 17; newer runtimes read it, older ones can too.
    private const long IrVersion = 8;

    /// <summary>
    /// Exports the model to <paramref name="outputPath"/>, atomically (a reader never sees a partial file).
    /// </summary>
    /// <param name="config">The encoder's architecture.</param>
    /// <param name="tensors">Encoder tensors with HuggingFace names (as BertModel's state_dict; <c>pooler.*</c> optional
    /// and unused) plus <c>classifier.weight</c> [outputs, hidden] and <c>classifier.bias</c> [outputs] (not for a task
    /// without a head: a sentence-embedding model is the encoder and its pooling alone).</param>
    /// <param name="card">The model card: task, pooling, labels, tokenizer settings, provenance, training metrics.</param>
    /// <param name="vocabText">The checkpoint's whole <c>vocab.txt</c>; stored in the file so it needs nothing beside it.</param>
    /// <param name="outputPath">Where to write the <c>.onnx</c> file.</param>
    /// <param name="extraMetadata">More metadata (run settings); keys must not clash with the card's.</param>
    /// <param name="options">Export choices; default: no hidden-state outputs.</param>
    /// <exception cref="BadInputException">A tensor is missing or misshapen, or the head does not fit the tensors.</exception>
    public static void Export(BertConfig config, IReadOnlyDictionary<string, TensorData> tensors, ModelCard card, string vocabText,
        string outputPath, IReadOnlyDictionary<string, string>? extraMetadata = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(card);
        ArgumentNullException.ThrowIfNull(vocabText);
        options ??= new OnnxExportOptions();
        var model = BuildModel(config, tensors, card, vocabText, extraMetadata, options);
        AtomicFile.Write(outputPath, stream => model.WriteTo(stream));
    }

    /// <summary>The version written to <c>mlnetbert.project_version</c> and <c>producer_version</c>.</summary>
    public static string ProjectVersion => ModelCard.CurrentProjectVersion;

    internal static ModelProto BuildModel(BertConfig config, IReadOnlyDictionary<string, TensorData> tensors, ModelCard card,
        string vocabText, IReadOnlyDictionary<string, string>? extraMetadata, OnnxExportOptions options)
    {
        const string source = "export";
        config.Validate(source);
        CheckpointValidation.Check(config with { AddPoolingLayer = false }, tensors, source);
        var task = TrainingTasks.Get(card.Task, source);
        // A task without a head (sentence embedding) writes the pooled vector: its width is the hidden size.
        int outputs = task.HasHead ? ClassifierRows(tensors, config, source) : config.HiddenSize;
        CheckCard(card, config.MaxPositionEmbeddings);
        task.CheckHead(card, outputs);
        card = card with { Variant = options.VariantName, ProjectVersion = ProjectVersion, Tokenizer = ModelFileFormat.WordPieceTokenizer };
        int vocabLines = CountVocabLines(vocabText);
        if (vocabLines == 0 || vocabLines > config.VocabSize)
            throw new BadInputException($"{source}: the vocabulary has {vocabLines} tokens, expected 1 to {config.VocabSize} (vocab_size)");

        options.Validate();
        var graph = new BertOnnxGraph(config, tensors, options.IncludeHiddenStates, options.Optimize).Build(task, card, outputs);
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "MlNetBert",
            ProducerVersion = ProjectVersion,
            DocString = $"{card.Task} ({(task.TokenLevel ? "per-token head" : card.Pooling + " pooling")}) fine-tuned from {card.Checkpoint}",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        if (options.Optimize)
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = BertOnnxGraph.MicrosoftDomain, Version = 1 });
        foreach (var (key, value) in Metadata(card, vocabText, extraMetadata))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        if (options.Quantize == OnnxQuantization.Int8)
            model = OnnxQuantizer.QuantizeDynamic(model);
        if (options.Float16)
            model = OnnxFloat16Converter.Convert(model);
        OnnxGraphBuilder.RequireEveryInitializerRead(model.Graph);
        return model;
    }

    /// <summary>The metadata entries (the card, the vocabulary, extras), sorted by key (ordinal) so the file is reproducible.</summary>
    internal static SortedDictionary<string, string> Metadata(ModelCard card, string vocabText, IReadOnlyDictionary<string, string>? extra)
    {
        var metadata = card.ToMetadata();
        metadata[ModelFileFormat.VocabKey] = vocabText;
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            if (metadata.ContainsKey(key))
                throw new BadInputException($"extra metadata key '{key}' clashes with a standard MlNetBert key; put training metrics in the card's Metrics, other settings under a prefix of your own (for example 'run.seed')");
            metadata[key] = value;
        }
        return metadata;
    }

    /// <summary>The card's settings that every task shares: pooling, max length, provenance.</summary>
    private static void CheckCard(ModelCard card, int maxPositions)
    {
        if (card.Pooling is not (ModelCard.PoolingMean or ModelCard.PoolingCls))
            throw new BadInputException($"head pooling '{card.Pooling}' is not supported (expected \"cls\" or \"mean\")");
        if (card.MaxLength < 3 || card.MaxLength > maxPositions)
            throw new BadInputException($"max length {card.MaxLength} is out of range (expected 3 to {maxPositions}, the checkpoint's max_position_embeddings)");
        if (string.IsNullOrWhiteSpace(card.Checkpoint))
            throw new BadInputException("head CheckpointName is empty (expected the name of the pretrained checkpoint, for example minilm-l6)");
    }

    private static int ClassifierRows(IReadOnlyDictionary<string, TensorData> tensors, BertConfig config, string source)
    {
        var classifier = Require(tensors, "classifier.weight");
        var classifierBias = Require(tensors, "classifier.bias");
        if (classifier.Shape.Length != 2 || classifier.Shape[1] != config.HiddenSize || classifier.Shape[0] < 1)
            throw new BadInputException($"{source}: tensor 'classifier.weight' has shape {classifier.ShapeText}, expected [outputs, {config.HiddenSize}]");
        if (!classifierBias.Shape.SequenceEqual([classifier.Shape[0]]))
            throw new BadInputException($"{source}: tensor 'classifier.bias' has shape {classifierBias.ShapeText}, expected [{classifier.Shape[0]}]");
        return (int)classifier.Shape[0];
    }

    private static TensorData Require(IReadOnlyDictionary<string, TensorData> tensors, string name) =>
        tensors.TryGetValue(name, out var t) ? t : throw new BadInputException($"export: missing tensor '{name}' (the classifier head)");

    private static int CountVocabLines(string vocabText)
    {
        int lines = vocabText.Count(c => c == '\n');
        return vocabText.Length > 0 && !vocabText.EndsWith('\n') ? lines + 1 : lines;
    }
}
