using System.ComponentModel;
using System.Text.Json.Serialization;

namespace MlNetBert.Serving;

/// <summary>
/// The body of a prediction request: <c>{"inputs": [...]}</c>. (The server reads the JSON itself, so that each
/// mistake gets its own error code; this record gives the OpenAPI document its schema.)
/// </summary>
/// <param name="Inputs">The inputs, answered one output each, in order.</param>
[Description("Inputs to predict. An input is a plain string (one-text models) or an object with text and text2 (pair models).")]
public sealed record PredictRequestBody(
    [property: Description("Plain strings for one-text models (\"a text\" stands for {\"text\": \"a text\"}); objects with text and text2 for pair models.")]
    IReadOnlyList<TextInput> Inputs);

/// <summary>One input: a text, and a second text for pair models.</summary>
/// <param name="Text">The text (the first of a pair).</param>
/// <param name="Text2">The second text: required by pair models, refused by one-text models.</param>
public sealed record TextInput(
    string Text,
    [property: Description("Required by pair models (pair classification, sentence similarity), refused by one-text models.")]
    string? Text2 = null);

/// <summary>Which model answered: every prediction response starts with it.</summary>
/// <param name="Name">The model's name (<c>--model name=path</c>, else the file or folder name).</param>
/// <param name="Version">The first 12 hex digits of the model file's SHA-256: it changes when the model behind a name does.</param>
/// <param name="Task">The model's task, for example <c>text-classification</c>.</param>
public sealed record ModelIdentity(
    string Name,
    [property: Description("First 12 hex digits of the model file's SHA-256.")] string Version,
    string Task);

/// <summary>
/// The answer to a prediction request: one output per input, in order, of the shape the model's task gives
/// (<see cref="ClassificationOutput"/>, <see cref="SimilarityOutput"/>, ...). A new task adds a derived type here
/// and to the <see cref="JsonDerivedTypeAttribute"/> list, and the OpenAPI document lists it.
/// </summary>
public sealed record PredictResponse(ModelIdentity Model, IReadOnlyList<PredictionOutput> Outputs);

/// <summary>
/// One input's prediction. Serialized by its runtime type without a discriminator: the model's <c>task</c> in the
/// response says which shape every output has, so a type tag per output would only repeat it.
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

/// <summary>Text or pair classification: the most probable label and every label's probability.</summary>
/// <param name="Label">The most probable label.</param>
/// <param name="Probabilities">Every label's probability, in the model's label order.</param>
public sealed record ClassificationOutput(
    [property: Description("The most probable label.")] string Label,
    [property: Description("Every label's probability, in the model's label order.")] IReadOnlyDictionary<string, float> Probabilities) : PredictionOutput;

/// <summary>Sentence similarity: one score for the pair, on the model's scale (for example 0 to 5).</summary>
public sealed record SimilarityOutput([property: Description("The pair's similarity on the model's score scale.")] float Score) : PredictionOutput;

/// <summary>Token classification (not served yet): the entities found in the text.</summary>
public sealed record TokenClassificationOutput(IReadOnlyList<Entity> Entities) : PredictionOutput;

/// <summary>One entity: its label, its text and where it is, in UTF-16 characters of the input.</summary>
/// <param name="Label">The entity's type, for example <c>PER</c>.</param>
/// <param name="Text">The entity's text as it appears in the input.</param>
/// <param name="Start">Offset of its first character.</param>
/// <param name="End">Offset just past its last character.</param>
/// <param name="Score">The model's confidence, 0 to 1.</param>
public sealed record Entity(string Label, string Text, int Start, int End, float Score);

/// <summary>Extractive question answering (not served yet): the best answers, most likely first.</summary>
public sealed record QuestionAnsweringOutput(IReadOnlyList<Answer> Answers) : PredictionOutput;

/// <summary>One answer span of the context, in UTF-16 characters, with the model's score.</summary>
/// <param name="Text">The answer as it appears in the context.</param>
/// <param name="Start">Offset of its first character in the context.</param>
/// <param name="End">Offset just past its last character.</param>
/// <param name="Score">The model's confidence, 0 to 1.</param>
public sealed record Answer(string Text, int Start, int End, float Score);

/// <summary>Sentence embedding (not served yet): the text's vector.</summary>
public sealed record EmbeddingOutput([property: Description("The text's embedding vector.")] IReadOnlyList<float> Embedding) : PredictionOutput;
