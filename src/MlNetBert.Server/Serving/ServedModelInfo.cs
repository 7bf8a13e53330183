using System.ComponentModel;
using System.Text.Json.Serialization;

namespace MlNetBert.Serving;

/// <summary>What <c>GET /v1/model</c> and <c>GET /v1/models</c> say about a model: how to call it and how it was trained.</summary>
/// <param name="Name">The model's name in URLs and responses.</param>
/// <param name="Version">The first 12 hex digits of the model file's SHA-256.</param>
/// <param name="Task">The model's task, for example <c>text-classification</c>.</param>
/// <param name="Pair">Whether inputs are pairs (<c>text</c> and <c>text2</c>).</param>
/// <param name="Labels">The labels, in the model's order (empty for similarity).</param>
/// <param name="MaxLength">Inputs are truncated to this many tokens.</param>
/// <param name="Checkpoint">The pretrained checkpoint the model was fine-tuned from.</param>
/// <param name="Pooling">How token states become one vector (<c>cls</c>, <c>mean</c>).</param>
/// <param name="Metrics">Training metrics from the file's <c>mlnetbert.metric.*</c> metadata: numbers, or text where not numeric.</param>
/// <param name="ProjectVersion">The MlNetBert version that exported the file.</param>
/// <param name="FormatVersion">The model file format's version.</param>
/// <param name="ExecutionProvider">Where ONNX Runtime runs it: <c>cpu</c> or <c>cuda</c>.</param>
/// <param name="Limits">This server's request limits.</param>
/// <param name="Batching">This server's micro-batching settings.</param>
/// <param name="Predict">The model's prediction route.</param>
/// <param name="EmbeddingDimension">Sentence-embedding models only: the length of each <c>embedding</c>.</param>
/// <param name="Normalize">Sentence-embedding models only: whether the vectors are L2-normalised (dot product = cosine).</param>
public sealed record ServedModelInfo(
    string Name,
    string Version,
    string Task,
    bool Pair,
    IReadOnlyList<string> Labels,
    [property: Description("Inputs are truncated to this many tokens.")] int MaxLength,
    string Checkpoint,
    string Pooling,
    [property: Description("Training metrics from the file's mlnetbert.metric.* metadata.")] IReadOnlyDictionary<string, object> Metrics,
    string ProjectVersion,
    string FormatVersion,
    string ExecutionProvider,
    ModelLimits Limits,
    BatchingSettings Batching,
    [property: Description("The model's prediction route.")] string Predict,
    [property: Description("Sentence-embedding models only: the length of each embedding."), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? EmbeddingDimension = null,
    [property: Description("Sentence-embedding models only: whether the vectors are L2-normalised."), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Normalize = null);

/// <summary>The request limits of the server (see <see cref="ServerOptions"/>).</summary>
public sealed record ModelLimits(int MaxInputs, int MaxTextChars, string LongText, long MaxBodyBytes);

/// <summary>The micro-batching settings of the server (see <see cref="ServerOptions.Batching"/>).</summary>
public sealed record BatchingSettings(bool Enabled, int MaxBatchSize, int MaxWaitMs);

/// <summary>The answer of <c>GET /v1/models</c>: every served model, the default (first) one first.</summary>
public sealed record ModelList(IReadOnlyList<ServedModelInfo> Models);
