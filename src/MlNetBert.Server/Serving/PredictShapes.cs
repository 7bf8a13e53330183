using System.ComponentModel;
using System.Text.Json.Serialization;
using MlNetBert.Inference;

namespace MlNetBert.Serving;

/// <summary>
/// The body of a prediction request: <c>{"inputs": [...]}</c>. (The server reads the JSON itself, so that each
/// mistake gets its own error code; this record gives the OpenAPI document its schema.)
/// </summary>
/// <param name="Inputs">The inputs, answered one output each, in order.</param>
[Description("Inputs to predict. An input is a plain string (one-text models), an object with text and text2 (pair models), or an object with question and context (question-answering models).")]
public sealed record PredictRequestBody(
    [property: Description("Plain strings for one-text models (\"a text\" stands for {\"text\": \"a text\"}); objects with text and text2 for pair models; objects with question and context for question answering.")]
    IReadOnlyList<PredictInput> Inputs);

/// <summary>
/// One input, in the shape the model's task reads (<see cref="InferenceTask.TextField"/>, <see cref="InferenceTask.Text2Field"/>).
/// Inputs carry no type tag: the served model decides which shape it takes.
/// </summary>
[JsonPolymorphic]
[JsonDerivedType(typeof(TextInput))]
[JsonDerivedType(typeof(QuestionInput))]
public abstract record PredictInput;

/// <summary>One input: a text, and a second text for pair models.</summary>
/// <param name="Text">The text (the first of a pair).</param>
/// <param name="Text2">The second text: required by pair models, refused by one-text models.</param>
public sealed record TextInput(
    string Text,
    [property: Description("Required by pair models (pair classification, sentence similarity), refused by one-text models.")]
    string? Text2 = null) : PredictInput;

/// <summary>One question for a question-answering model, with the text its answer is cut from.</summary>
/// <param name="Question">The question.</param>
/// <param name="Context">The text to find the answer in; any length (it is read in overlapping windows), up to the server's character limit.</param>
public sealed record QuestionInput(
    string Question,
    [property: Description("The text the answer is cut from (character offsets in the output refer to it); read in overlapping windows.")]
    string Context) : PredictInput;

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
/// (<see cref="InferenceTask.ToOutput"/>: <see cref="ClassificationOutput"/>, <see cref="SimilarityOutput"/>, ...).
/// A new task registers its shape on <see cref="PredictionOutput"/>, and the OpenAPI document lists it.
/// </summary>
public sealed record PredictResponse(ModelIdentity Model, IReadOnlyList<PredictionOutput> Outputs);
