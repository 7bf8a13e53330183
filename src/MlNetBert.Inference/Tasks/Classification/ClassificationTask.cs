using System.Globalization;

namespace MlNetBert.Inference;

/// <summary>
/// One text (<see cref="Text"/>) or a pair of texts (<see cref="Pair"/>) in, one of N labels out. Graph outputs
/// <c>logits</c> and <c>probabilities</c>, [batch, labels].
/// </summary>
public sealed class ClassificationTask : InferenceTask
{
    /// <summary>The name of one-text classification.</summary>
    public const string TextName = "text-classification";

    /// <summary>The name of sentence-pair classification.</summary>
    public const string PairName = "pair-classification";

    private ClassificationTask(string name, bool pair)
    {
        Name = name;
        ReadsPair = pair;
    }

    /// <summary>Text classification (sentiment, topic, question type...).</summary>
    public static ClassificationTask Text { get; } = new(TextName, pair: false);

    /// <summary>Sentence-pair classification (paraphrase, entailment...).</summary>
    public static ClassificationTask Pair { get; } = new(PairName, pair: true);

    public override string Name { get; }

    public override string Description => ReadsPair ? "two texts in, one of N labels out" : "one text in, one of N labels out";

    public override bool ReadsPair { get; }

    public override bool HasLabels => true;

    public override IReadOnlyList<string> OutputNames { get; } = [ModelFileFormat.Logits, ModelFileFormat.Probabilities];

    public override IReadOnlyList<int> OutputWidths(ModelCard card) => [card.Labels.Count, card.Labels.Count];

    public override Prediction Decode(IReadOnlyList<float[]> outputs, ModelCard card)
    {
        float[] probabilities = outputs[1];
        return new Prediction(card.Labels[Scores.ArgMax(probabilities)], probabilities, outputs[0], null);
    }

    /// <summary>An ensemble averages probabilities; its logits are their logarithm, so their softmax is that average.</summary>
    public override (string Averaged, string? LogOfAverage)? EnsembleOutputs => (ModelFileFormat.Probabilities, ModelFileFormat.Logits);

    public override Prediction Average(IReadOnlyList<Prediction> members, ModelCard card)
    {
        var mean = new float[card.Labels.Count];
        foreach (var m in members)
            for (int i = 0; i < mean.Length; i++)
                mean[i] += m.Probabilities![i];
        for (int i = 0; i < mean.Length; i++)
            mean[i] /= members.Count;
        return new Prediction(card.Labels[Scores.ArgMax(mean)], mean, mean.Select(p => MathF.Log(p)).ToArray(), null);
    }

    public override PredictionOutput ToOutput(Prediction prediction, ModelCard card)
    {
        // Written in the model's label order, which the dictionary keeps as it only ever grows.
        var probabilities = new Dictionary<string, float>(card.Labels.Count, StringComparer.Ordinal);
        for (int i = 0; i < card.Labels.Count; i++)
            probabilities[card.Labels[i]] = prediction.Probabilities![i];
        return new ClassificationOutput(prediction.Label!, probabilities);
    }

    public override string Describe(Prediction prediction, ModelCard card) =>
        $"{prediction.Label}  (" + string.Join(", ", card.Labels.Select((l, i) => $"{l} {prediction.Probabilities![i]:F4}")) + ")";

    public override IReadOnlyList<string> TableColumns(ModelCard card) => ["predicted_label", .. card.Labels.Select(l => "p_" + l)];

    public override IEnumerable<string> TableCells(Prediction prediction, ModelCard card) =>
        [prediction.Label!, .. prediction.Probabilities!.Select(v => v.ToString("G6", CultureInfo.InvariantCulture))];
}
