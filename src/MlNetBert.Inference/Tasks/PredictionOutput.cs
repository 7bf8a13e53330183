using System.ComponentModel;
using System.Text.Json.Serialization;

namespace MlNetBert.Inference;

/// <summary>
/// One input's prediction as the server and <c>predict --json</c> write it; each task gives its own shape
/// (<see cref="InferenceTask.ToOutput"/>) and registers it here. Serialized by its runtime type without a
/// discriminator: the model's <c>task</c> in a response says which shape every output has, so a type tag per output
/// would only repeat it.
/// </summary>
[JsonPolymorphic]
[JsonDerivedType(typeof(ClassificationOutput))]
[JsonDerivedType(typeof(SimilarityOutput))]
[JsonDerivedType(typeof(TokenClassificationOutput))]
[JsonDerivedType(typeof(QuestionAnsweringOutput))]
[JsonDerivedType(typeof(EmbeddingOutput))]
public abstract record PredictionOutput
{
    /// <summary>True when a text of this input was cut to the server's character limit; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [Description("Present (true) when a text was cut to the server's character limit.")]
    public bool? Truncated { get; init; }
}

/// <summary>Token classification: the entities found in the text, in order.</summary>
public sealed record TokenClassificationOutput(IReadOnlyList<Entity> Entities) : PredictionOutput;

/// <summary>One entity: its type, its text and where it is, in UTF-16 characters of the input.</summary>
/// <param name="Type">The entity's type, for example <c>PER</c>.</param>
/// <param name="Text">The entity's text as it appears in the input.</param>
/// <param name="Start">Offset of its first character.</param>
/// <param name="End">Offset just past its last character.</param>
/// <param name="Score">The mean probability of the entity's word tags, 0 to 1.</param>
public sealed record Entity(string Type, string Text, int Start, int End, float Score);

/// <summary>Extractive question answering: the best answers, most likely first.</summary>
public sealed record QuestionAnsweringOutput(IReadOnlyList<Answer> Answers) : PredictionOutput;

/// <summary>One answer span of the context, in UTF-16 characters, with the model's score.</summary>
/// <param name="Text">The answer as it appears in the context.</param>
/// <param name="Start">Offset of its first character in the context.</param>
/// <param name="End">Offset just past its last character.</param>
/// <param name="Score">The span's probability among the candidate spans kept (softmax of start + end logits), 0 to 1.</param>
public sealed record Answer(string Text, int Start, int End, float Score);

/// <summary>Sentence embedding: the text's vector.</summary>
public sealed record EmbeddingOutput([property: Description("The text's embedding vector.")] IReadOnlyList<float> Embedding) : PredictionOutput;
