using MlNetBert.Inference;
using Onnx;
using static MlNetBert.Export.OnnxGraphBuilder;

namespace MlNetBert.Export;

/// <summary>
/// The fused encoder: ONNX Runtime's contrib ops (domain <c>com.microsoft</c>, see ONNX Runtime's
/// docs/ContribOperators.md) in place of the plain subgraphs: <c>EmbedLayerNormalization</c> for the three embedding
/// lookups, their sum and LayerNorm; <c>Attention</c> with the query, key and value projections packed into one
/// [hidden, 3 * hidden] weight; <c>BiasGelu</c> (exact GELU) or <c>FastGelu</c> (tanh GELU) for bias + activation.
/// Runs in ONNX Runtime only.
/// </summary>
/// <remarks>
/// The residual connections stay <c>Add</c> + <c>LayerNormalization</c> rather than <c>SkipLayerNormalization</c>:
/// ONNX Runtime 1.31's CPU kernel for SkipLayerNormalization is a scalar loop, measured at about twice the time of
/// Add + LayerNormalization here, while on CUDA, where the fused kernel pays, ONNX Runtime's optimizer makes the
/// fusion itself at load. <c>BertOnnxModel</c> turns that fusion off for CPU sessions (see BertOnnxOptions).
/// </remarks>
internal sealed partial class BertOnnxGraph
{
    /// <summary>The contrib-op domain (ONNX Runtime's operator set "com.microsoft", version 1).</summary>
    public const string MicrosoftDomain = "com.microsoft";

    // Attention reads the 0/1 mask itself (int32, [batch, sequence]); any pattern of padding works, not only
    // right-padding, and masked keys get exactly zero weight (exp(-10000) underflows in float32).
    private string FusedMask() =>
        _g.Node("Cast", [ModelFileFormat.AttentionMask], "mask.int32", Int("to", (long)TensorProto.Types.DataType.Int32));

    private string FusedEmbeddings(string mask)
    {
        var int32 = Int("to", (long)TensorProto.Types.DataType.Int32);
        string ids = _g.Node("Cast", [ModelFileFormat.InputIds], "embeddings.input_ids.int32", int32);
        string types = _g.Node("Cast", [ModelFileFormat.TokenTypeIds], "embeddings.token_type_ids.int32", int32);
        // Positions default to 0..sequence-1, as in BertModel. ONNX Runtime's shape inference expects the second
        // output (a per-row token count, which Attention could read instead of the mask); nothing reads it here.
        return _g.MicrosoftNode("EmbedLayerNormalization",
            [ids, types, Weight("embeddings.word_embeddings.weight"), Weight("embeddings.position_embeddings.weight"),
             Weight("embeddings.token_type_embeddings.weight"), Weight("embeddings.LayerNorm.weight"), Weight("embeddings.LayerNorm.bias"), mask],
            [ModelFileFormat.HiddenState(0), "embeddings.mask_index"], Float("epsilon", (float)config.LayerNormEps));
    }

    private string FusedLayer(string x, string mask, int index, bool clsOnly, string output)
    {
        string p = $"encoder.layer.{index}.";
        string attention = _g.MicrosoftNode("Attention", [x, PackedQkvWeight(p), PackedQkvBias(p), mask], p + "attention.context",
            Int("num_heads", config.NumAttentionHeads));
        string residual = x;
        if (clsOnly)
        {
            // Attention computes every query row; only position 0 goes on through the output projection and the
            // feed-forward, which are most of a layer's work.
            attention = _g.Node("Slice", [attention, Shared("const.starts_0"), Shared("const.ends_1"), Shared("const.axes_1")], p + "attention.context.cls");
            residual = _g.Node("Slice", [x, Shared("const.starts_0"), Shared("const.ends_1"), Shared("const.axes_1")], p + "cls_input");
        }
        string attnDense = Linear(attention, p + "attention.output.dense", p + "attention.output.dense.out");
        string attended = LayerNorm(_g.Node("Add", [attnDense, residual], p + "attention.output.residual"), p + "attention.output.LayerNorm", p + "attention.output");
        string expanded = FusedActivation(MatMul(attended, p + "intermediate.dense"), p + "intermediate.dense.bias", p + "intermediate");
        string outDense = Linear(expanded, p + "output.dense", p + "output.dense.out");
        return LayerNorm(_g.Node("Add", [outDense, attended], p + "output.residual"), p + "output.LayerNorm", output);
    }

    // MatMul without the bias: BiasGelu after it adds the bias.
    private string MatMul(string x, string prefix)
    {
        var stored = tensors[prefix + ".weight"].Transpose2D();
        string w = _g.Weight(prefix + ".weight", stored.Data, stored.Shape);
        return _g.Node("MatMul", [x, w], prefix + ".matmul");
    }

    private string FusedActivation(string x, string bias, string output) => config.HiddenAct switch
    {
        "relu" => _g.Node("Relu", [_g.Node("Add", [x, Weight(bias)], output + ".biased")], output),
        "gelu_new" => _g.MicrosoftNode("FastGelu", [x, Weight(bias)], output),
        _ => _g.MicrosoftNode("BiasGelu", [x, Weight(bias)], output),
    };

    // [hidden, 3 * hidden]: columns 0..h-1 project to queries, h..2h-1 to keys, 2h..3h-1 to values.
    private string PackedQkvWeight(string p)
    {
        int h = _hidden;
        var packed = new float[h * 3 * h];
        string[] parts = ["query", "key", "value"];
        for (int part = 0; part < 3; part++)
        {
            // nn.Linear stores [out, in]: packed[in, part * h + out] = weight[out, in].
            float[] w = tensors[$"{p}attention.self.{parts[part]}.weight"].Data;
            for (int o = 0; o < h; o++)
                for (int i = 0; i < h; i++)
                    packed[i * 3 * h + part * h + o] = w[o * h + i];
        }
        return _g.Weight(p + "attention.self.qkv.weight", packed, h, 3L * h);
    }

    private string PackedQkvBias(string p)
    {
        float[] packed = [.. tensors[p + "attention.self.query.bias"].Data, .. tensors[p + "attention.self.key.bias"].Data, .. tensors[p + "attention.self.value.bias"].Data];
        return _g.Weight(p + "attention.self.qkv.bias", packed, packed.Length);
    }
}
