namespace MlNetBert.Inference;

/// <summary>
/// The names that make an ONNX file an MlNetBert model: the <c>metadata_props</c> keys, and the graph's input and
/// output names. <see cref="ModelCard"/> writes and reads the keys (in ONNX files and in <c>model.zip</c>'s
/// <c>model-card.json</c> alike); format version 1.
/// </summary>
public static class ModelFileFormat
{
    /// <summary>The format version this library writes and reads.</summary>
    public const string Version = "1";

    public const string TaskKey = "mlnetbert.task";
    public const string LabelsKey = "mlnetbert.labels";
    public const string PoolingKey = "mlnetbert.pooling";
    public const string ScoreScaleKey = "mlnetbert.score_scale";
    public const string ScoreOffsetKey = "mlnetbert.score_offset";
    public const string MaxLengthKey = "mlnetbert.max_length";
    public const string TokenizerKey = "mlnetbert.tokenizer";
    public const string VocabKey = "mlnetbert.vocab";
    public const string LowerCaseKey = "mlnetbert.lower_case";
    public const string CheckpointKey = "mlnetbert.checkpoint";
    public const string CheckpointSha256Key = "mlnetbert.checkpoint_sha256";
    public const string TextColumnKey = "mlnetbert.text_column";
    public const string Text2ColumnKey = "mlnetbert.text2_column";

    /// <summary>Sentence embedding: the vector's length (<c>mlnetbert.embedding_dim</c>); written only by embedding models.</summary>
    public const string EmbeddingDimensionKey = "mlnetbert.embedding_dim";

    /// <summary>Sentence embedding: whether the graph L2-normalises the vector (<c>mlnetbert.normalize</c>); written only by embedding models.</summary>
    public const string NormalizeKey = "mlnetbert.normalize";

    /// <summary>Training metrics: <c>mlnetbert.metric.&lt;name&gt;</c> (for example <c>mlnetbert.metric.valid_accuracy</c>).</summary>
    public const string MetricPrefix = "mlnetbert.metric.";
    public const string FormatVersionKey = "mlnetbert.format_version";
    public const string ProjectVersionKey = "mlnetbert.project_version";

    /// <summary>
    /// Which form of the network the file holds: <c>fp32</c> (plain opset-17 ops), <c>optimized</c> (ONNX Runtime's
    /// fused ops), <c>int8</c>/<c>optimized-int8</c> (int8 weights) or <c>fp16</c>/<c>optimized-fp16</c>. Files
    /// written before this key existed are <c>fp32</c>.
    /// </summary>
    public const string VariantKey = "mlnetbert.variant";

    /// <summary>
    /// An ensemble (<c>mlnetbert ensemble</c>): how many member networks the graph runs on the same inputs and
    /// averages (probabilities, or scores). Absent for a single model.
    /// </summary>
    public const string EnsembleMembersKey = "mlnetbert.ensemble_members";

    /// <summary>BERT WordPiece with the vocabulary in <see cref="VocabKey"/>; inputs input_ids, attention_mask, token_type_ids.</summary>
    public const string WordPieceTokenizer = "bert-wordpiece";

    /// <summary>
    /// ML.NET NAS-BERT's tokenizer: RoBERTa byte-level BPE (<see cref="BpeVocabKey"/>, <see cref="BpeMergesKey"/>) remapped
    /// through fairseq's dictionary (<see cref="FairseqDictKey"/>); the graph's only input is input_ids, padded with 1.
    /// </summary>
    public const string RobertaBpeTokenizer = "roberta-bpe-fairseq";

    /// <summary>The tokenizer kinds this library reads.</summary>
    public static IReadOnlyList<string> Tokenizers { get; } = [WordPieceTokenizer, RobertaBpeTokenizer];

    /// <summary>GPT-2/RoBERTa <c>encoder.json</c> (token → BPE id).</summary>
    public const string BpeVocabKey = "mlnetbert.bpe_vocab";

    /// <summary>GPT-2/RoBERTa <c>vocab.bpe</c> (the merges).</summary>
    public const string BpeMergesKey = "mlnetbert.bpe_merges";

    /// <summary>fairseq <c>dict.txt</c> (BPE id → model id by occurrence rank).</summary>
    public const string FairseqDictKey = "mlnetbert.fairseq_dict";

    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string TokenTypeIds = "token_type_ids";

    /// <summary>Classification output: raw scores, [batch, labels] float32.</summary>
    public const string Logits = "logits";

    /// <summary>Classification output: softmax of <see cref="Logits"/>, [batch, labels] float32.</summary>
    public const string Probabilities = "probabilities";

    /// <summary>Similarity output: <c>logits[:, 0] * score_scale + score_offset</c>, [batch] float32.</summary>
    public const string Score = "score";

    /// <summary>Sentence-embedding output: the pooled (and, per the card, L2-normalised) vector, [batch, embedding_dim] float32.</summary>
    public const string Embedding = "embedding";

    /// <summary>Optional outputs <c>hidden_state_0</c> (embeddings) to <c>hidden_state_L</c> (last layer), [batch, sequence, hidden].</summary>
    public static string HiddenState(int index) => $"hidden_state_{index}";
}
