using System.Text.Json;
using System.Text.Json.Serialization;

namespace MlNetBert.Checkpoints;

/// <summary>
/// The fields of a HuggingFace <c>config.json</c> that define a BERT encoder. Names follow HuggingFace so the
/// file round-trips; anything MlNetBert cannot run is rejected by <see cref="Validate"/> with the field named.
/// </summary>
public sealed record BertConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "bert";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 30522;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 768;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 12;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 12;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 3072;
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "gelu";
    [JsonPropertyName("hidden_dropout_prob")] public double HiddenDropoutProb { get; init; } = 0.1;
    [JsonPropertyName("attention_probs_dropout_prob")] public double AttentionProbsDropoutProb { get; init; } = 0.1;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 512;
    [JsonPropertyName("type_vocab_size")] public int TypeVocabSize { get; init; } = 2;
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-12;
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; init; } = 0.02;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; init; }
    [JsonPropertyName("position_embedding_type")] public string PositionEmbeddingType { get; init; } = "absolute";

    /// <summary>Whether the checkpoint has a pooler (dense + tanh over [CLS]); some exports drop it.</summary>
    [JsonPropertyName("add_pooling_layer")] public bool AddPoolingLayer { get; init; } = true;

    [JsonIgnore] public int HeadSize => HiddenSize / NumAttentionHeads;

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Reads and validates a <c>config.json</c>; errors name the file and the field.</summary>
    public static BertConfig Load(string path)
    {
        BertConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<BertConfig>(File.ReadAllText(path));
        }
        catch (JsonException ex)
        {
            throw new BadInputException($"{path}: not a valid config.json ({ex.Message})", ex);
        }
        if (config is null)
            throw new BadInputException($"{path}: config.json is empty");
        config.Validate(path);
        return config;
    }

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>Throws <see cref="BadInputException"/> naming the first unsupported field.</summary>
    public void Validate(string source)
    {
        void Fail(string field, object? value, string expected) =>
            throw new BadInputException($"{source}: unsupported {field} = {value} (expected {expected})");

        if (!string.Equals(ModelType, "bert", StringComparison.Ordinal))
            Fail("model_type", ModelType, "bert");
        if (HiddenAct is not ("gelu" or "gelu_new" or "relu"))
            Fail("hidden_act", HiddenAct, "gelu, gelu_new or relu");
        if (!string.Equals(PositionEmbeddingType, "absolute", StringComparison.Ordinal))
            Fail("position_embedding_type", PositionEmbeddingType, "absolute");
        if (HiddenSize <= 0)
            Fail("hidden_size", HiddenSize, "a positive number");
        if (NumAttentionHeads <= 0 || HiddenSize % NumAttentionHeads != 0)
            Fail("num_attention_heads", NumAttentionHeads, $"a divisor of hidden_size {HiddenSize}");
        if (NumHiddenLayers <= 0)
            Fail("num_hidden_layers", NumHiddenLayers, "a positive number");
        if (IntermediateSize <= 0)
            Fail("intermediate_size", IntermediateSize, "a positive number");
        if (VocabSize <= 0)
            Fail("vocab_size", VocabSize, "a positive number");
        if (MaxPositionEmbeddings < 8)
            Fail("max_position_embeddings", MaxPositionEmbeddings, "at least 8");
        if (TypeVocabSize < 1)
            Fail("type_vocab_size", TypeVocabSize, "at least 1");
    }

    /// <summary>Every tensor a BERT checkpoint with this config must hold, with its shape (HuggingFace names and layouts).</summary>
    public IEnumerable<(string Name, long[] Shape)> ExpectedTensors()
    {
        long h = HiddenSize, ffn = IntermediateSize;
        yield return ("embeddings.word_embeddings.weight", [VocabSize, h]);
        yield return ("embeddings.position_embeddings.weight", [MaxPositionEmbeddings, h]);
        yield return ("embeddings.token_type_embeddings.weight", [TypeVocabSize, h]);
        yield return ("embeddings.LayerNorm.weight", [h]);
        yield return ("embeddings.LayerNorm.bias", [h]);
        for (int i = 0; i < NumHiddenLayers; i++)
        {
            string p = $"encoder.layer.{i}.";
            foreach (var proj in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                yield return (p + proj + ".weight", [h, h]);
                yield return (p + proj + ".bias", [h]);
            }
            yield return (p + "attention.output.LayerNorm.weight", [h]);
            yield return (p + "attention.output.LayerNorm.bias", [h]);
            yield return (p + "intermediate.dense.weight", [ffn, h]);
            yield return (p + "intermediate.dense.bias", [ffn]);
            yield return (p + "output.dense.weight", [h, ffn]);
            yield return (p + "output.dense.bias", [h]);
            yield return (p + "output.LayerNorm.weight", [h]);
            yield return (p + "output.LayerNorm.bias", [h]);
        }
        if (AddPoolingLayer)
        {
            yield return ("pooler.dense.weight", [h, h]);
            yield return ("pooler.dense.bias", [h]);
        }
    }
}
