using System.ComponentModel;

namespace MlNetBert.Inference;

/// <summary>Text or pair classification: the most probable label and every label's probability.</summary>
/// <param name="Label">The most probable label.</param>
/// <param name="Probabilities">Every label's probability, in the model's label order.</param>
public sealed record ClassificationOutput(
    [property: Description("The most probable label.")] string Label,
    [property: Description("Every label's probability, in the model's label order.")] IReadOnlyDictionary<string, float> Probabilities) : PredictionOutput;
