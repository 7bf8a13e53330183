using System.ComponentModel;

namespace MlNetBert.Inference;

/// <summary>Sentence similarity: one score for the pair, on the model's scale (for example 0 to 5).</summary>
public sealed record SimilarityOutput([property: Description("The pair's similarity on the model's score scale.")] float Score) : PredictionOutput;
