using MlNetBert.Checkpoints;
using MlNetBert.Export;
using MlNetBert.Inference;
using Onnx;
using static MlNetBert.Export.OnnxGraphBuilder;

namespace MlNetBert.NasBert;

/// <summary>
/// Lays out ML.NET 0.23.1's NAS-BERT (ModelForPrediction: NasBertEncoder + PredictionHead) as plain opset-17 ONNX
/// nodes, step for step as its TorchSharp forward pass runs in evaluation mode:
/// token embedding + learned positions (ids cumsum(tokens != pad) * (tokens != pad), so 1.. for tokens and 0 for
/// padding), LayerNorm(64), Linear 64→192, zeroing of padded rows, then the 24 layer slots: identity; separable
/// convolution (twice: padded rows zeroed, depthwise Conv1d with padding k/2, pointwise Conv1d, exact GELU, + input,
/// LayerNorm); or fairseq self-attention (q scaled by head_dim^-0.5 after its bias, padded keys masked, output
/// projection, + input, LayerNorm). The head is Linear(192 → outputs) on the first token. Input: <c>input_ids</c>
/// [batch, sequence] int64, padded with id 1, exactly as ML.NET pads a batch.
/// </summary>
internal sealed class NasBertOnnxGraph(IReadOnlyDictionary<string, TensorData> tensors, string source)
{
    private const float LayerNormEpsilon = 1e-5f;
    private const int Heads = 3;
    private const TensorProto.Types.DataType FloatType = TensorProto.Types.DataType.Float;
    private const TensorProto.Types.DataType Int64Type = TensorProto.Types.DataType.Int64;

    private readonly OnnxGraphBuilder _g = new("mlnetbert_nasbert");
    private int _hidden;

    /// <summary>Builds the graph: the encoder, the classifier layer on the first token, then the task's ONNX head.</summary>
    public GraphProto Build(Tasks.TrainingTask task, ModelCard card)
    {
        var head = Require("PredictionHead.Classifier.dense.weight", 2);
        int outputs = (int)head.Shape[0];
        _hidden = (int)head.Shape[1];
        try
        {
            task.CheckHead(card, outputs);
        }
        catch (BadInputException ex)
        {
            throw new BadInputException($"{source}: {ex.Message}", ex);
        }
        _g.Input(ModelFileFormat.InputIds, Int64Type, "batch", "sequence");
        _g.Int64s("const.pad", [NasBertWeights.PaddingIndex], scalar: true);
        _g.Int64s("const.zero", [0], scalar: true);
        _g.Int64s("const.one_axis", [1], scalar: true);
        _g.Int64s("const.axes_1", [1]);
        _g.Int64s("const.axes_2", [2]);
        _g.Int64s("const.shape_heads", [0, 0, Heads, _hidden / Heads]);
        _g.Int64s("const.shape_hidden", [0, 0, _hidden]);
        _g.Scalar("const.one", 1f);
        _g.Scalar("const.half", 0.5f);
        _g.Scalar("const.inverse_sqrt2", (float)(1.0 / Math.Sqrt(2.0)));
        _g.Scalar("const.attention_scale", (float)Math.Pow(_hidden / Heads, -0.5));
        _g.Scalar("const.masked", float.MinValue);

        // Padding: ML.NET treats id 1 as padding wherever it appears (tokens.eq(PaddingIdx)).
        string isPad = _g.Node("Equal", [ModelFileFormat.InputIds, "const.pad"], "mask.is_pad");
        string valid = _g.Node("Not", [isPad], "mask.valid");
        string validInt = _g.Node("Cast", [valid], "mask.valid_int", Int("to", (long)Int64Type));
        string validRows = _g.Node("Unsqueeze", [_g.Node("Cast", [valid], "mask.valid_float", Int("to", (long)FloatType)), "const.axes_2"], "mask.valid_rows");
        // [batch, 1, 1, sequence]: 0 for real keys, float.MinValue for padded ones (softmax gives them exactly 0, as -inf does).
        string keyMask = _g.Node("Unsqueeze", [_g.Node("Mul", [_g.Node("Cast", [isPad], "mask.pad_float", Int("to", (long)FloatType)), "const.masked"], "mask.pad_scores"), "const.axes_1"], "mask.keys_3d");
        keyMask = _g.Node("Unsqueeze", [keyMask, "const.axes_1"], "mask.keys");

        string positions = _g.Node("Mul", [_g.Node("CumSum", [validInt, "const.one_axis"], "embeddings.position_count"), validInt], "embeddings.position_ids");
        string tokens = _g.Node("Gather", [Weight("Encoder.TokenEmbedding.weight", 2), ModelFileFormat.InputIds], "embeddings.tokens");
        string places = _g.Node("Gather", [Weight("Encoder.PositionalEmbedding.Embedding.weight", 2), positions], "embeddings.positions");
        string x = LayerNorm(_g.Node("Add", [tokens, places], "embeddings.sum"), "Encoder.EmbeddingLayerNorm", "embeddings.normalized");
        x = Linear(x, "Encoder.EmbedTransfer.HiddenTransfer", "embeddings.transferred");
        x = _g.Node("Mul", [x, validRows], "embeddings.output");

        CheckLayers();
        for (int i = 0; i < NasBertWeights.Arches.Count; i++)
        {
            string p = $"Encoder.Layers.{i}.Operation.";
            if (tensors.ContainsKey(p + "SelfAttention.QProjection.weight"))
                x = Attention(x, keyMask, p, $"layer{i}");
            else if (tensors.ContainsKey(p + "Conv1.conv.Conv.conv1.weight"))
            {
                x = ConvBlock(x, validRows, p + "Conv1", p + "LayerNorm1", $"layer{i}.conv1");
                x = ConvBlock(x, validRows, p + "Conv2", p + "LayerNorm2", $"layer{i}.conv2");
            }
        }

        string first = _g.Node("Gather", [x, "const.zero"], "head.first_token", Int("axis", 1));
        string logits = Linear(first, "PredictionHead.Classifier.dense", ModelFileFormat.Logits);
        task.WriteOnnxHead(_g, logits, outputs, card, name => name);
        return _g.Graph;
    }

    /// <summary>Each slot must hold what ML.NET's fixed architecture puts there, and nothing else may be in the file.</summary>
    private void CheckLayers()
    {
        int expected = 8; // token and position embeddings, LayerNorm, transfer, head
        for (int i = 0; i < NasBertWeights.Arches.Count; i++)
        {
            int arch = NasBertWeights.Arches[i];
            string p = $"Encoder.Layers.{i}.Operation.";
            bool attention = tensors.ContainsKey(p + "SelfAttention.QProjection.weight");
            bool conv = tensors.ContainsKey(p + "Conv1.conv.Conv.conv1.weight");
            string want = arch switch { 0 => "identity", 7 => "self-attention", _ => "convolution" };
            string have = attention ? "self-attention" : conv ? "convolution" : "identity";
            if (want != have)
                throw new BadInputException($"{source}: layer slot {i} holds {have} weights but ML.NET's NAS-BERT has {want} there; not a model this exporter knows");
            if (conv)
            {
                int kernel = arch switch { 9 => 3, 10 => 5, _ => 7 };
                Require(p + "Conv1.conv.Conv.conv1.weight", 3, _hidden, 1, kernel);
                Require(p + "Conv2.conv.Conv.conv1.weight", 3, _hidden, 1, kernel);
                expected += 12;
            }
            else if (attention)
            {
                expected += 10;
            }
        }
        if (tensors.Count != expected)
            throw new BadInputException($"{source}: {tensors.Count} tensors where ML.NET's NAS-BERT has {expected}; not a model this exporter knows");
    }

    private string ConvBlock(string x, string validRows, string conv, string norm, string name)
    {
        var depthwise = Require(conv + ".conv.Conv.conv1.weight", 3);
        long kernel = depthwise.Shape[2];
        Require(conv + ".conv.Conv.conv2.weight", 3, _hidden, _hidden, 1);
        string masked = _g.Node("Mul", [x, validRows], name + ".masked");
        string channels = _g.Node("Transpose", [masked], name + ".channels_first", Ints("perm", 0, 2, 1));
        string dw = _g.Node("Conv", [channels, Weight(conv + ".conv.Conv.conv1.weight", 3), Weight(conv + ".conv.Conv.conv1.bias", 1)], name + ".depthwise",
            Int("group", _hidden), Ints("kernel_shape", kernel), Ints("pads", kernel / 2, kernel / 2));
        string pw = _g.Node("Conv", [dw, Weight(conv + ".conv.Conv.conv2.weight", 3), Weight(conv + ".conv.Conv.conv2.bias", 1)], name + ".pointwise",
            Ints("kernel_shape", 1));
        string back = _g.Node("Transpose", [pw], name + ".channels_last", Ints("perm", 0, 2, 1));
        string activated = Gelu(back, name + ".gelu");
        return LayerNorm(_g.Node("Add", [activated, x], name + ".residual"), norm, name + ".output");
    }

    private string Attention(string x, string keyMask, string p, string name)
    {
        string a = p + "SelfAttention.";
        string q = _g.Node("Mul", [Linear(x, a + "QProjection", name + ".q"), "const.attention_scale"], name + ".q_scaled");
        string qh = _g.Node("Transpose", [_g.Node("Reshape", [q, "const.shape_heads"], name + ".q_split")], name + ".q_heads", Ints("perm", 0, 2, 1, 3));
        string kh = _g.Node("Transpose", [_g.Node("Reshape", [Linear(x, a + "KProjection", name + ".k"), "const.shape_heads"], name + ".k_split")], name + ".k_heads", Ints("perm", 0, 2, 3, 1));
        string vh = _g.Node("Transpose", [_g.Node("Reshape", [Linear(x, a + "VProjection", name + ".v"), "const.shape_heads"], name + ".v_split")], name + ".v_heads", Ints("perm", 0, 2, 1, 3));
        string scores = _g.Node("Add", [_g.Node("MatMul", [qh, kh], name + ".scores"), keyMask], name + ".scores_masked");
        string probs = _g.Node("Softmax", [scores], name + ".probs", Int("axis", -1));
        string context = _g.Node("Transpose", [_g.Node("MatMul", [probs, vh], name + ".context_heads")], name + ".context_transposed", Ints("perm", 0, 2, 1, 3));
        string merged = _g.Node("Reshape", [context, "const.shape_hidden"], name + ".context");
        string projected = Linear(merged, a + "OutProjLinear", name + ".out");
        return LayerNorm(_g.Node("Add", [projected, x], name + ".residual"), p + "LayerNorm", name + ".output");
    }

    // Exact GELU (TorchSharp's nn.GELU): x * 0.5 * (1 + erf(x / sqrt(2))).
    private string Gelu(string x, string output)
    {
        string erf = _g.Node("Erf", [_g.Node("Mul", [x, "const.inverse_sqrt2"], output + ".scaled")], output + ".erf");
        string onePlus = _g.Node("Add", [erf, "const.one"], output + ".one_plus");
        return _g.Node("Mul", [_g.Node("Mul", [x, "const.half"], output + ".half"), onePlus], output);
    }

    private string Linear(string x, string prefix, string output)
    {
        var weight = Require(prefix + ".weight", 2);
        Require(prefix + ".bias", 1, weight.Shape[0]);
        var stored = weight.Transpose2D();
        string w = _g.Weight(prefix + ".weight", stored.Data, stored.Shape);
        return _g.Node("Add", [_g.Node("MatMul", [x, w], output + ".matmul"), Weight(prefix + ".bias", 1)], output);
    }

    private string LayerNorm(string x, string prefix, string output)
    {
        var weight = Require(prefix + ".weight", 1);
        Require(prefix + ".bias", 1, weight.Shape[0]);
        return _g.Node("LayerNormalization", [x, Weight(prefix + ".weight", 1), Weight(prefix + ".bias", 1)], output,
            Int("axis", -1), Float("epsilon", LayerNormEpsilon));
    }

    private string Weight(string name, int rank)
    {
        var t = Require(name, rank);
        return _g.Weight(name, t.Data, t.Shape);
    }

    private TensorData Require(string name, int rank, params long[] shape)
    {
        if (!tensors.TryGetValue(name, out var t))
            throw new BadInputException($"{source}: tensor '{name}' is missing; not an ML.NET NAS-BERT model this exporter knows");
        if (t.Shape.Length != rank || (shape.Length > 0 && !t.Shape.SequenceEqual(shape)))
            throw new BadInputException($"{source}: tensor '{name}' has shape {t.ShapeText}, expected {(shape.Length > 0 ? "[" + string.Join(", ", shape) + "]" : $"rank {rank}")}");
        return t;
    }
}
