using MlNetBert.Checkpoints;
using MlNetBert.Inference;
using Onnx;
using static MlNetBert.Export.OnnxGraphBuilder;

namespace MlNetBert.Export;

/// <summary>
/// Lays out the BERT encoder and head as ONNX nodes. The plain form (this file) mirrors Modeling/BertModel.cs step
/// for step in standard opset-17 ops; the fused form (BertOnnxGraph.Fused.cs) writes the encoder with ONNX Runtime's
/// contrib ops instead. Both share the inputs, the pooling and the head.
/// </summary>
internal sealed partial class BertOnnxGraph(BertConfig config, IReadOnlyDictionary<string, TensorData> tensors, bool hiddenStates, bool fused)
{
    private const TensorProto.Types.DataType FloatType = TensorProto.Types.DataType.Float;
    private const TensorProto.Types.DataType Int64Type = TensorProto.Types.DataType.Int64;

    private readonly OnnxGraphBuilder _g = new("mlnetbert");
    private readonly int _hidden = config.HiddenSize;

    public GraphProto Build(Tasks.TrainingTask task, ModelCard card, int outputs)
    {
        foreach (var input in new[] { ModelFileFormat.InputIds, ModelFileFormat.AttentionMask, ModelFileFormat.TokenTypeIds })
            _g.Input(input, Int64Type, "batch", "sequence");

        string mask = fused ? FusedMask() : AdditiveMask();
        string x = fused ? FusedEmbeddings(mask) : Embeddings();
        var states = new List<string> { x };
        // With [CLS] pooling the head reads one position, so the last layer needs only that row's query, residual
        // and feed-forward (keys and values still come from every position). Hidden-state outputs need them all.
        // A token-level head reads every position, so it never takes that shortcut.
        bool clsOnly = card.Pooling == ModelCard.PoolingCls && !hiddenStates && !task.TokenLevel;
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            bool lastClsOnly = clsOnly && i == config.NumHiddenLayers - 1;
            string output = lastClsOnly ? "encoder.last_layer.cls" : ModelFileFormat.HiddenState(i + 1);
            x = fused ? FusedLayer(x, mask, i, lastClsOnly, output) : Layer(x, mask, i, lastClsOnly, output);
            states.Add(x);
        }

        // A token-level head is the same Linear on [batch, sequence, hidden]: MatMul broadcasts over the positions.
        string pooled = task.TokenLevel ? x
            : card.Pooling == ModelCard.PoolingCls ? _g.Node("Gather", [x, Shared("const.zero")], "pooled", Int("axis", 1))
            : MeanPool(x);
        // A task without a head (sentence embedding) writes its output from the pooled vector itself.
        string logits = task.HasHead ? Linear(pooled, "classifier", ModelFileFormat.Logits) : pooled;
        task.WriteOnnxHead(_g, logits, outputs, card, Shared);
        if (hiddenStates)
            for (int i = 0; i < states.Count; i++)
                _g.Output(states[i], FloatType, "batch", "sequence", (long)_hidden);
        return _g.Graph;
    }

    // [batch, sequence] 0/1 → [batch, 1, 1, sequence]: 0 where attending is allowed, float.MinValue on padding
    // (the same constant as BertModel.AdditiveMask, so padded keys get exactly zero weight in both).
    private string AdditiveMask()
    {
        string mask = _g.Node("Cast", [ModelFileFormat.AttentionMask], "mask.float", Int("to", (long)FloatType));
        string unsqueezed = _g.Node("Unsqueeze", [mask, Shared("const.axes_1_2")], "mask.unsqueezed");
        string inverted = _g.Node("Sub", [Shared("const.one"), unsqueezed], "mask.inverted");
        return _g.Node("Mul", [inverted, _g.Scalar("mask.min_value", float.MinValue)], "mask.additive");
    }

    private string Embeddings()
    {
        string word = _g.Node("Gather", [Weight("embeddings.word_embeddings.weight"), ModelFileFormat.InputIds], "embeddings.word");
        // Positions 0..sequence-1 are the first rows of the position table: slice it to the input's length.
        string length = _g.Node("Shape", [ModelFileFormat.InputIds], "embeddings.sequence_length", Int("start", 1), Int("end", 2));
        string position = _g.Node("Slice", [Weight("embeddings.position_embeddings.weight"), Shared("const.starts_0"), length, Shared("const.axes_0")], "embeddings.position");
        string type = _g.Node("Gather", [Weight("embeddings.token_type_embeddings.weight"), ModelFileFormat.TokenTypeIds], "embeddings.token_type");
        string sum = _g.Node("Add", [_g.Node("Add", [word, position], "embeddings.word_position"), type], "embeddings.sum");
        return LayerNorm(sum, "embeddings.LayerNorm", ModelFileFormat.HiddenState(0));
    }

    private string Layer(string x, string mask, int index, bool clsOnly, string output)
    {
        string p = $"encoder.layer.{index}.";
        // Query rows: all positions, or only position 0 ([batch, 1, hidden]) when the head reads only [CLS].
        string queryInput = clsOnly ? _g.Node("Slice", [x, Shared("const.starts_0"), Shared("const.ends_1"), Shared("const.axes_1")], p + "cls_input") : x;
        string q = Heads(Linear(queryInput, p + "attention.self.query", p + "attention.self.query.out"), [0, 2, 1, 3], p + "q");
        // Keys go straight to [batch, heads, headSize, sequence], so scores need no extra transpose.
        string k = Heads(Linear(x, p + "attention.self.key", p + "attention.self.key.out"), [0, 2, 3, 1], p + "k_transposed");
        string v = Heads(Linear(x, p + "attention.self.value", p + "attention.self.value.out"), [0, 2, 1, 3], p + "v");

        string scores = _g.Node("MatMul", [q, k], p + "attention.scores");
        string scaled = _g.Node("Mul", [scores, Shared("const.attention_scale")], p + "attention.scores_scaled");
        string masked = _g.Node("Add", [scaled, mask], p + "attention.scores_masked");
        string probs = _g.Node("Softmax", [masked], p + "attention.probs", Int("axis", -1));
        string context = _g.Node("MatMul", [probs, v], p + "attention.context_heads");
        string merged = _g.Node("Transpose", [context], p + "attention.context_transposed", Ints("perm", 0, 2, 1, 3));
        string contextFlat = _g.Node("Reshape", [merged, Shared("const.shape_hidden")], p + "attention.context");

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
        string split = _g.Node("Reshape", [x, Shared("const.shape_heads")], output + ".split");
        return _g.Node("Transpose", [split], output, Ints("perm", perm));
    }

    private string Activation(string x, string output) => config.HiddenAct switch
    {
        "relu" => _g.Node("Relu", [x], output),
        "gelu_new" => GeluTanh(x, output),
        _ => GeluErf(x, output),
    };

    // Exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))). Written as Div, Erf, Add, Mul(x, 0.5), Mul: the form ONNX Runtime's
    // graph optimizer recognises and fuses (with the bias Add before it) into one BiasGelu kernel at load time.
    private string GeluErf(string x, string output)
    {
        string sqrt2 = ScalarOnce("const.sqrt2", MathF.Sqrt(2f));
        string erf = _g.Node("Erf", [_g.Node("Div", [x, sqrt2], output + ".scaled")], output + ".erf");
        string onePlus = _g.Node("Add", [erf, Shared("const.one")], output + ".one_plus");
        string half = _g.Node("Mul", [x, Shared("const.half")], output + ".half");
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
        string onePlus = _g.Node("Add", [tanh, Shared("const.one")], output + ".one_plus");
        string half = _g.Node("Mul", [x, Shared("const.half")], output + ".half");
        return _g.Node("Mul", [half, onePlus], output);
    }

    // Mean over real tokens: sum(hidden * mask) / max(count, tiny), so an all-padding row gives 0, not NaN.
    private string MeanPool(string x)
    {
        // The plain graph already has the mask as float (for the additive attention mask); the fused one does not.
        string maskFloat = fused ? _g.Node("Cast", [ModelFileFormat.AttentionMask], "mask.float", Int("to", (long)FloatType)) : "mask.float";
        string mask = _g.Node("Unsqueeze", [maskFloat, Shared("const.axes_2")], "pool.mask");
        string summed = _g.Node("ReduceSum", [_g.Node("Mul", [x, mask], "pool.masked"), Shared("const.axes_1")], "pool.sum", Int("keepdims", 0));
        string count = _g.Node("ReduceSum", [mask, Shared("const.axes_1")], "pool.count", Int("keepdims", 0));
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

    private readonly HashSet<string> _declared = new(StringComparer.Ordinal);

    // Every shared constant is declared on first use, so no graph (plain or fused, any pooling, head or activation)
    // carries an initializer nothing reads: ONNX Runtime would log a "Removing initializer" warning for each.
    private string Shared(string name)
    {
        if (!_declared.Add(name))
            return name;
        return name switch
        {
            "const.zero" => _g.Int64s(name, [0], scalar: true),
            "const.axes_1" => _g.Int64s(name, [1]),
            "const.starts_0" => _g.Int64s(name, [0]),
            "const.ends_1" => _g.Int64s(name, [1]),
            "const.axes_0" => _g.Int64s(name, [0]),
            "const.axes_2" => _g.Int64s(name, [2]),
            "const.axes_1_2" => _g.Int64s(name, [1, 2]),
            "const.shape_heads" => _g.Int64s(name, [0, 0, config.NumAttentionHeads, config.HeadSize]),
            "const.shape_hidden" => _g.Int64s(name, [0, 0, _hidden]),
            "const.one" => _g.Scalar(name, 1f),
            "const.half" => _g.Scalar(name, 0.5f),
            "const.attention_scale" => _g.Scalar(name, (float)(1.0 / Math.Sqrt(config.HeadSize))),
            _ => throw new ArgumentException($"unknown shared constant '{name}'", nameof(name)),
        };
    }

    private string ScalarOnce(string name, float value) => _declared.Add(name) ? _g.Scalar(name, value) : name;
}
