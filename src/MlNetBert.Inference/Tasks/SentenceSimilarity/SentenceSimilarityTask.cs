using System.Globalization;

namespace MlNetBert.Inference;

/// <summary>
/// Two texts in, one similarity score out, on the training labels' scale (a cross-encoder). Graph output
/// <c>score</c>, [batch]: the head's output × <see cref="ModelCard.ScoreScale"/> + <see cref="ModelCard.ScoreOffset"/>.
/// </summary>
public sealed class SentenceSimilarityTask : InferenceTask
{
    /// <summary>The task's name.</summary>
    public const string TaskName = "sentence-similarity";

    private SentenceSimilarityTask()
    {
    }

    /// <summary>The one instance.</summary>
    public static SentenceSimilarityTask Instance { get; } = new();

    public override string Name => TaskName;

    public override string Description => "two texts in, one similarity score out";

    public override bool ReadsPair => true;

    public override bool HasLabels => false;

    public override IReadOnlyList<string> OutputNames { get; } = [ModelFileFormat.Score];

    public override IReadOnlyList<int> OutputWidths(ModelCard card) => [1];

    public override Prediction Decode(IReadOnlyList<float[]> outputs, ModelCard card) => new(null, null, null, outputs[0][0]);

    /// <summary>An ensemble averages the members' scores.</summary>
    public override (string Averaged, string? LogOfAverage)? EnsembleOutputs => (ModelFileFormat.Score, null);

    public override Prediction Average(IReadOnlyList<Prediction> members, ModelCard card) =>
        new(null, null, null, members.Average(m => m.Score!.Value));

    public override PredictionOutput ToOutput(Prediction prediction, ModelCard card) => new SimilarityOutput(prediction.Score!.Value);

    public override string Describe(Prediction prediction, ModelCard card) =>
        $"score {prediction.Score!.Value.ToString("F4", CultureInfo.InvariantCulture)}";

    public override IReadOnlyList<string> TableColumns(ModelCard card) => ["score"];

    public override IEnumerable<string> TableCells(Prediction prediction, ModelCard card) =>
        [prediction.Score!.Value.ToString("G6", CultureInfo.InvariantCulture)];
}
