using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using MlNetBert.Checkpoints;
using MlNetBert.Inference;
using Onnx;
using static MlNetBert.Export.OnnxGraphBuilder;

namespace MlNetBert.Export;

/// <summary>
/// Writes a fine-tuned BERT model (encoder + classifier head) as one self-describing ONNX file: plain opset-17 ops
/// that any ONNX runtime can run, weights as initializers, and metadata with everything needed to tokenize inputs
/// and read outputs (see <see cref="ModelFileFormat"/>). <see cref="BertOnnxModel"/> loads it.
/// </summary>
/// <remarks>
/// The graph is written by hand from the known architecture (TorchSharp has no ONNX exporter). Weights keep their
/// HuggingFace names; projection weights are stored [in, out] for MatMul. The output is byte-for-byte reproducible:
/// no timestamps or random ids, metadata sorted by key.
/// </remarks>
/// <example>
/// <code>
/// OnnxExporter.Export(checkpoint.Config, tensors, head, File.ReadAllText(checkpoint.VocabPath), "model.onnx",
///     new Dictionary&lt;string, string&gt; { ["mlnetbert.metrics.accuracy"] = "0.898" });
/// </code>
/// </example>
public static class OnnxExporter
{
    /// <summary>The ONNX opset the graph uses (LayerNormalization needs 17).</summary>
    public const int Opset = 17;

    // IR version 8 is the one that came with opset 17; newer runtimes read it, older ones can too.
    private const long IrVersion = 8;

    private const TensorProto.Types.DataType FloatType = TensorProto.Types.DataType.Float;
    private const TensorProto.Types.DataType Int64Type = TensorProto.Types.DataType.Int64;

    /// <summary>
    /// Exports the model to <paramref name="outputPath"/>, atomically (a reader never sees a partial file).
    /// </summary>
    /// <param name="config">The encoder's architecture.</param>
    /// <param name="tensors">Encoder tensors with HuggingFace names (as BertModel's state_dict; <c>pooler.*</c> optional
    /// and unused) plus <c>classifier.weight</c> [outputs, hidden] and <c>classifier.bias</c> [outputs].</param>
    /// <param name="head">Task, pooling, labels and tokenizer settings.</param>
    /// <param name="vocabText">The checkpoint's whole <c>vocab.txt</c>; stored in the file so it needs nothing beside it.</param>
    /// <param name="outputPath">Where to write the <c>.onnx</c> file.</param>
    /// <param name="extraMetadata">More metadata (training metrics, run settings); keys must not clash with the standard ones.</param>
    /// <param name="options">Export choices; default: no hidden-state outputs.</param>
    /// <exception cref="BadInputException">A tensor is missing or misshapen, or the head does not fit the tensors.</exception>
    public static void Export(BertConfig config, IReadOnlyDictionary<string, TensorData> tensors, BertHeadSpec head, string vocabText,
        string outputPath, IReadOnlyDictionary<string, string>? extraMetadata = null, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(vocabText);
        options ??= new OnnxExportOptions();
        var model = BuildModel(config, tensors, head, vocabText, extraMetadata, options);
        AtomicFile.Write(outputPath, stream => model.WriteTo(stream));
    }

    /// <summary>The version written to <c>mlnetbert.project_version</c> and <c>producer_version</c>.</summary>
    public static string ProjectVersion { get; } =
        typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "unknown";

    internal static ModelProto BuildModel(BertConfig config, IReadOnlyDictionary<string, TensorData> tensors, BertHeadSpec head,
        string vocabText, IReadOnlyDictionary<string, string>? extraMetadata, OnnxExportOptions options)
    {
        const string source = "export";
        config.Validate(source);
        CheckpointValidation.Check(config with { AddPoolingLayer = false }, tensors, source);
        var classifier = Require(tensors, "classifier.weight");
        var classifierBias = Require(tensors, "classifier.bias");
        if (classifier.Shape.Length != 2 || classifier.Shape[1] != config.HiddenSize || classifier.Shape[0] < 1)
            throw new BadInputException($"{source}: tensor 'classifier.weight' has shape {classifier.ShapeText}, expected [outputs, {config.HiddenSize}]");
        if (!classifierBias.Shape.SequenceEqual([classifier.Shape[0]]))
            throw new BadInputException($"{source}: tensor 'classifier.bias' has shape {classifierBias.ShapeText}, expected [{classifier.Shape[0]}]");
        head.Validate((int)classifier.Shape[0], config.MaxPositionEmbeddings);
        int vocabLines = CountVocabLines(vocabText);
        if (vocabLines == 0 || vocabLines > config.VocabSize)
            throw new BadInputException($"{source}: the vocabulary has {vocabLines} tokens, expected 1 to {config.VocabSize} (vocab_size)");

        var graph = new BertGraph(config, tensors, options.IncludeHiddenStates).Build(head, (int)classifier.Shape[0]);
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "MlNetBert",
            ProducerVersion = ProjectVersion,
            DocString = $"{head.Task} ({head.Pooling} pooling) fine-tuned from {head.CheckpointName}",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in Metadata(head, vocabText, extraMetadata))
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model;
    }

    /// <summary>The metadata entries, sorted by key (ordinal) so the file is reproducible.</summary>
    internal static SortedDictionary<string, string> Metadata(BertHeadSpec head, string vocabText, IReadOnlyDictionary<string, string>? extra)
    {
        var invariant = CultureInfo.InvariantCulture;
        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ModelFileFormat.TaskKey] = head.Task,
            [ModelFileFormat.LabelsKey] = JsonSerializer.Serialize(head.Labels),
            [ModelFileFormat.PoolingKey] = head.Pooling,
            [ModelFileFormat.ScoreScaleKey] = head.ScoreScale.ToString("R", invariant),
            [ModelFileFormat.ScoreOffsetKey] = head.ScoreOffset.ToString("R", invariant),
            [ModelFileFormat.MaxLengthKey] = head.MaxLength.ToString(invariant),
            [ModelFileFormat.TokenizerKey] = ModelFileFormat.WordPieceTokenizer,
            [ModelFileFormat.VocabKey] = vocabText,
            [ModelFileFormat.LowerCaseKey] = head.LowerCase ? "true" : "false",
            [ModelFileFormat.CheckpointKey] = head.CheckpointName,
            [ModelFileFormat.FormatVersionKey] = ModelFileFormat.Version,
            [ModelFileFormat.ProjectVersionKey] = ProjectVersion,
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            if (metadata.ContainsKey(key))
                throw new BadInputException($"extra metadata key '{key}' clashes with a standard MlNetBert key; choose another name (for example 'mlnetbert.metrics.<name>')");
            metadata[key] = value;
        }
        return metadata;
    }

    private static TensorData Require(IReadOnlyDictionary<string, TensorData> tensors, string name) =>
        tensors.TryGetValue(name, out var t) ? t : throw new BadInputException($"export: missing tensor '{name}' (the classifier head)");

    private static int CountVocabLines(string vocabText)
    {
        int lines = vocabText.Count(c => c == '\n');
        return vocabText.Length > 0 && !vocabText.EndsWith('\n') ? lines + 1 : lines;
    }

    /// <summary>Lays out the BERT encoder and head as ONNX nodes, mirroring Modeling/BertModel.cs step for step.</summary>
    private sealed class BertGraph(BertConfig config, IReadOnlyDictionary<string, TensorData> tensors, bool hiddenStates)
    {
        private readonly OnnxGraphBuilder _g = new("mlnetbert");
        private readonly int _hidden = config.HiddenSize;

        public GraphProto Build(BertHeadSpec head, int outputs)
        {
            foreach (var input in new[] { ModelFileFormat.InputIds, ModelFileFormat.AttentionMask, ModelFileFormat.TokenTypeIds })
                _g.Input(input, Int64Type, "batch", "sequence");
            DeclareConstants();

            string mask = AdditiveMask();
            string x = Embeddings();
            var states = new List<string> { x };
            // With [CLS] pooling the head reads one position, so the last layer needs only that row's query, residual
            // and feed-forward (keys and values still come from every position). Hidden-state outputs need them all.
            bool clsOnly = head.Pooling == "cls" && !hiddenStates;
            for (int i = 0; i < config.NumHiddenLayers; i++)
            {
                bool lastClsOnly = clsOnly && i == config.NumHiddenLayers - 1;
                x = Layer(x, mask, i, lastClsOnly, lastClsOnly ? "encoder.last_layer.cls" : ModelFileFormat.HiddenState(i + 1));
                states.Add(x);
            }

            string pooled = head.Pooling == "cls"
                ? _g.Node("Gather", [x, "const.zero"], "pooled", Int("axis", 1))
                : MeanPool(x);
            string logits = Linear(pooled, "classifier", ModelFileFormat.Logits);
            if (head.Task == BertTasks.SentenceSimilarity)
            {
                string first = _g.Node("Gather", [logits, "const.zero"], "similarity.logit", Int("axis", 1));
                string scaled = _g.Node("Mul", [first, _g.Scalar("similarity.score_scale", head.ScoreScale)], "similarity.scaled");
                _g.Node("Add", [scaled, _g.Scalar("similarity.score_offset", head.ScoreOffset)], ModelFileFormat.Score);
                _g.Output(ModelFileFormat.Score, FloatType, "batch");
            }
            else
            {
                _g.Node("Softmax", [logits], ModelFileFormat.Probabilities, Int("axis", -1));
                _g.Output(ModelFileFormat.Logits, FloatType, "batch", (long)outputs);
                _g.Output(ModelFileFormat.Probabilities, FloatType, "batch", (long)outputs);
            }
            if (hiddenStates)
                for (int i = 0; i < states.Count; i++)
                    _g.Output(states[i], FloatType, "batch", "sequence", (long)_hidden);
            return _g.Graph;
        }

        private void DeclareConstants()
        {
            _g.Int64s("const.zero", [0], scalar: true);
            _g.Int64s("const.axes_0", [0]);
            _g.Int64s("const.axes_1", [1]);
            _g.Int64s("const.axes_1_2", [1, 2]);
            _g.Int64s("const.starts_0", [0]);
            _g.Int64s("const.ends_1", [1]);
            _g.Int64s("const.shape_heads", [0, 0, config.NumAttentionHeads, config.HeadSize]);
            _g.Int64s("const.shape_hidden", [0, 0, _hidden]);
            _g.Scalar("const.one", 1f);
            _g.Scalar("const.half", 0.5f);
            _g.Scalar("const.attention_scale", (float)(1.0 / Math.Sqrt(config.HeadSize)));
        }

        // [batch, sequence] 0/1 → [batch, 1, 1, sequence]: 0 where attending is allowed, float.MinValue on padding
        // (the same constant as BertModel.AdditiveMask, so padded keys get exactly zero weight in both).
        private string AdditiveMask()
        {
            string mask = _g.Node("Cast", [ModelFileFormat.AttentionMask], "mask.float", Int("to", (long)FloatType));
            string unsqueezed = _g.Node("Unsqueeze", [mask, "const.axes_1_2"], "mask.unsqueezed");
            string inverted = _g.Node("Sub", ["const.one", unsqueezed], "mask.inverted");
            return _g.Node("Mul", [inverted, _g.Scalar("mask.min_value", float.MinValue)], "mask.additive");
        }

        private string Embeddings()
        {
            string word = _g.Node("Gather", [Weight("embeddings.word_embeddings.weight"), ModelFileFormat.InputIds], "embeddings.word");
            // Positions 0..sequence-1 are the first rows of the position table: slice it to the input's length.
            string length = _g.Node("Shape", [ModelFileFormat.InputIds], "embeddings.sequence_length", Int("start", 1), Int("end", 2));
            string position = _g.Node("Slice", [Weight("embeddings.position_embeddings.weight"), "const.starts_0", length, "const.axes_0"], "embeddings.position");
            string type = _g.Node("Gather", [Weight("embeddings.token_type_embeddings.weight"), ModelFileFormat.TokenTypeIds], "embeddings.token_type");
            string sum = _g.Node("Add", [_g.Node("Add", [word, position], "embeddings.word_position"), type], "embeddings.sum");
            return LayerNorm(sum, "embeddings.LayerNorm", ModelFileFormat.HiddenState(0));
        }

        private string Layer(string x, string mask, int index, bool clsOnly, string output)
        {
            string p = $"encoder.layer.{index}.";
            // Query rows: all positions, or only position 0 ([batch, 1, hidden]) when the head reads only [CLS].
            string queryInput = clsOnly ? _g.Node("Slice", [x, "const.starts_0", "const.ends_1", "const.axes_1"], p + "cls_input") : x;
            string q = Heads(Linear(queryInput, p + "attention.self.query", p + "attention.self.query.out"), [0, 2, 1, 3], p + "q");
            // Keys go straight to [batch, heads, headSize, sequence], so scores need no extra transpose.
            string k = Heads(Linear(x, p + "attention.self.key", p + "attention.self.key.out"), [0, 2, 3, 1], p + "k_transposed");
            string v = Heads(Linear(x, p + "attention.self.value", p + "attention.self.value.out"), [0, 2, 1, 3], p + "v");

            string scores = _g.Node("MatMul", [q, k], p + "attention.scores");
            string scaled = _g.Node("Mul", [scores, "const.attention_scale"], p + "attention.scores_scaled");
            string masked = _g.Node("Add", [scaled, mask], p + "attention.scores_masked");
            string probs = _g.Node("Softmax", [masked], p + "attention.probs", Int("axis", -1));
            string context = _g.Node("MatMul", [probs, v], p + "attention.context_heads");
            string merged = _g.Node("Transpose", [context], p + "attention.context_transposed", Ints("perm", 0, 2, 1, 3));
            string contextFlat = _g.Node("Reshape", [merged, "const.shape_hidden"], p + "attention.context");

            string attnDense = Linear(contextFlat, p + "attention.output.dense", p + "attention.output.dense.out");
            string attnSum = _g.Node("Add", [attnDense, queryInput], p + "attention.output.residual");
            string attended = LayerNorm(attnSum, p + "attention.output.LayerNorm", p + "attention.output");

            string expanded = Activation(Linear(attended, p + "intermediate.dense", p + "intermediate.dense.out"), p + "intermediate");
            string outDense = Linear(expanded, p + "output.dense", p + "output.dense.out");
            string outSum = _g.Node("Add", [outDense, attended], p + "output.residual");
            return LayerNorm(outSum, p + "output.LayerNorm", output);
        }

        // [batch, sequence, hidden] → [batch, sequence, heads, headSize] → transposed by perm.
        private string Heads(string x, long[] perm, string output)
        {
            string split = _g.Node("Reshape", [x, "const.shape_heads"], output + ".split");
            return _g.Node("Transpose", [split], output, Ints("perm", perm));
        }

        private string Activation(string x, string output) => config.HiddenAct switch
        {
            "relu" => _g.Node("Relu", [x], output),
            "gelu_new" => GeluTanh(x, output),
            _ => GeluErf(x, output),
        };

        // Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))).
        private string GeluErf(string x, string output)
        {
            string inverseSqrt2 = ScalarOnce("const.inverse_sqrt2", (float)(1.0 / Math.Sqrt(2.0)));
            string erf = _g.Node("Erf", [_g.Node("Mul", [x, inverseSqrt2], output + ".scaled")], output + ".erf");
            string onePlus = _g.Node("Add", [erf, "const.one"], output + ".one_plus");
            string half = _g.Node("Mul", [x, "const.half"], output + ".half");
            return _g.Node("Mul", [half, onePlus], output);
        }

        // HuggingFace's gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).
        private string GeluTanh(string x, string output)
        {
            string cubeScale = ScalarOnce("const.gelu_cube", 0.044715f);
            string outerScale = ScalarOnce("const.sqrt_2_over_pi", (float)Math.Sqrt(2.0 / Math.PI));
            string cube = _g.Node("Mul", [_g.Node("Mul", [x, x], output + ".square"), x], output + ".cube");
            string inner = _g.Node("Add", [x, _g.Node("Mul", [cube, cubeScale], output + ".cube_scaled")], output + ".inner");
            string tanh = _g.Node("Tanh", [_g.Node("Mul", [inner, outerScale], output + ".inner_scaled")], output + ".tanh");
            string onePlus = _g.Node("Add", [tanh, "const.one"], output + ".one_plus");
            string half = _g.Node("Mul", [x, "const.half"], output + ".half");
            return _g.Node("Mul", [half, onePlus], output);
        }

        // Mean over real tokens: sum(hidden * mask) / max(count, tiny), so an all-padding row gives 0, not NaN.
        private string MeanPool(string x)
        {
            string mask = _g.Node("Unsqueeze", ["mask.float", _g.Int64s("const.axes_2", [2])], "pool.mask");
            string summed = _g.Node("ReduceSum", [_g.Node("Mul", [x, mask], "pool.masked"), "const.axes_1"], "pool.sum", Int("keepdims", 0));
            string count = _g.Node("ReduceSum", [mask, "const.axes_1"], "pool.count", Int("keepdims", 0));
            string safe = _g.Node("Max", [count, _g.Scalar("pool.min_count", 1e-9f)], "pool.count_safe");
            return _g.Node("Div", [summed, safe], "pooled");
        }

        private string Linear(string x, string prefix, string output)
        {
            var weight = tensors[prefix + ".weight"];
            // nn.Linear keeps [out, in]; MatMul wants [in, out].
            var stored = weight.Transpose2D();
            string w = _g.Weight(prefix + ".weight", stored.Data, stored.Shape);
            string product = _g.Node("MatMul", [x, w], output + ".matmul");
            return _g.Node("Add", [product, Weight(prefix + ".bias")], output);
        }

        private string LayerNorm(string x, string prefix, string output) =>
            _g.Node("LayerNormalization", [x, Weight(prefix + ".weight"), Weight(prefix + ".bias")], output,
                Int("axis", -1), Float("epsilon", (float)config.LayerNormEps));

        private string Weight(string name)
        {
            var t = tensors[name];
            return _g.Weight(name, t.Data, t.Shape);
        }

        private readonly HashSet<string> _scalars = new(StringComparer.Ordinal);

        private string ScalarOnce(string name, float value) => _scalars.Add(name) ? _g.Scalar(name, value) : name;
    }
}
