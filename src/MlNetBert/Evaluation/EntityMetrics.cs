using System.Text.Json.Nodes;
using MlNetBert.Data.TokenClassification;

namespace MlNetBert.Evaluation;

/// <summary>An entity in a sentence: words <c>[Start, End)</c> of one type.</summary>
public readonly record struct EntitySpan(string Type, int Start, int End);

/// <summary>Entity-level scores of one type.</summary>
/// <param name="Type">The entity type (<c>PER</c>, <c>creative-work</c>).</param>
/// <param name="Precision">Correct / predicted entities of this type; 0 when none were predicted.</param>
/// <param name="Recall">Correct / gold entities of this type; 0 when there are none.</param>
/// <param name="F1">Harmonic mean of precision and recall; 0 when both are 0.</param>
/// <param name="Support">Gold entities of this type.</param>
/// <param name="Predicted">Predicted entities of this type.</param>
/// <param name="Correct">Predicted entities whose span and type both match a gold entity.</param>
public sealed record EntityTypeMetrics(string Type, double Precision, double Recall, double F1, int Support, int Predicted, int Correct);

/// <summary>
/// Named-entity scores with conlleval/seqeval semantics: an entity counts as found only when its span and its type
/// both match a gold entity exactly; precision, recall and F1 are micro-averaged over all entities, and also given per
/// type. Token accuracy is reported beside them but is not the measure (most words are <c>O</c>).
/// </summary>
/// <remarks>
/// Entities are read from BIO tags as conlleval reads them: <c>B-X</c> starts an entity; <c>I-X</c> continues an
/// entity of type X and starts one after <c>O</c> or after another type (an <c>I-</c> without <c>B-</c> is not thrown
/// away); an entity ends at <c>O</c>, at any <c>B-</c>, or at a change of type.
/// </remarks>
/// <example>
/// <code>
/// var m = EntityMetrics.Compute(gold.Sentences.Select(s => s.Tags).ToList(), predictedTags);
/// Console.WriteLine($"F1 {m.F1:F3}, PER {m.PerType.Single(t => t.Type == "PER").F1:F3}");
/// </code>
/// </example>
public sealed record EntityMetrics
{
    /// <summary>Correct / predicted entities; 0 when nothing was predicted.</summary>
    public required double Precision { get; init; }

    /// <summary>Correct / gold entities; 0 when there are none.</summary>
    public required double Recall { get; init; }

    /// <summary>Harmonic mean of <see cref="Precision"/> and <see cref="Recall"/>; 0 when both are 0.</summary>
    public required double F1 { get; init; }

    /// <summary>Share of words whose predicted tag equals the gold tag.</summary>
    public required double TokenAccuracy { get; init; }

    public required int GoldEntities { get; init; }

    public required int PredictedEntities { get; init; }

    public required int CorrectEntities { get; init; }

    /// <summary>One entry per type found in the gold or the predicted tags, in ordinal order of the type.</summary>
    public required IReadOnlyList<EntityTypeMetrics> PerType { get; init; }

    /// <summary>The entities of one sentence's BIO tags, in order.</summary>
    /// <exception cref="ArgumentException">A tag is not <c>O</c>, <c>B-X</c> or <c>I-X</c>.</exception>
    public static IReadOnlyList<EntitySpan> Entities(IReadOnlyList<string> tags) =>
        Inference.BioTags.Spans(tags).Select(s => new EntitySpan(s.Type, s.Start, s.End)).ToArray();

    /// <summary>Scores predicted tag sequences against gold ones, sentence by sentence.</summary>
    /// <exception cref="ArgumentException">The lists or a pair of sentences differ in length, or a tag is not valid BIO.</exception>
    public static EntityMetrics Compute(IReadOnlyList<IReadOnlyList<string>> gold, IReadOnlyList<IReadOnlyList<string>> predicted)
    {
        ArgumentNullException.ThrowIfNull(gold);
        ArgumentNullException.ThrowIfNull(predicted);
        if (gold.Count != predicted.Count)
            throw new ArgumentException($"{gold.Count} gold sentences but {predicted.Count} predicted", nameof(predicted));

        var counts = new SortedDictionary<string, (int Gold, int Predicted, int Correct)>(StringComparer.Ordinal);
        long words = 0, rightWords = 0;
        for (int s = 0; s < gold.Count; s++)
        {
            if (gold[s].Count != predicted[s].Count)
                throw new ArgumentException($"sentence {s}: {gold[s].Count} gold tags but {predicted[s].Count} predicted", nameof(predicted));
            for (int i = 0; i < gold[s].Count; i++)
            {
                words++;
                if (gold[s][i] == predicted[s][i])
                    rightWords++;
            }
            var goldEntities = Entities(gold[s]);
            var predictedEntities = Entities(predicted[s]);
            var goldSet = new HashSet<EntitySpan>(goldEntities);
            foreach (var e in goldEntities)
                Bump(e.Type, gold: 1);
            foreach (var e in predictedEntities)
                Bump(e.Type, predicted: 1, correct: goldSet.Contains(e) ? 1 : 0);
        }

        var perType = counts.Select(kv => Scores(kv.Key, kv.Value.Gold, kv.Value.Predicted, kv.Value.Correct)).ToArray();
        var all = Scores(string.Empty, perType.Sum(t => t.Support), perType.Sum(t => t.Predicted), perType.Sum(t => t.Correct));
        return new EntityMetrics
        {
            Precision = all.Precision,
            Recall = all.Recall,
            F1 = all.F1,
            TokenAccuracy = words == 0 ? 0 : (double)rightWords / words,
            GoldEntities = all.Support,
            PredictedEntities = all.Predicted,
            CorrectEntities = all.Correct,
            PerType = perType,
        };

        void Bump(string type, int gold = 0, int predicted = 0, int correct = 0)
        {
            counts.TryGetValue(type, out var c);
            counts[type] = (c.Gold + gold, c.Predicted + predicted, c.Correct + correct);
        }
    }

    private static EntityTypeMetrics Scores(string type, int gold, int predicted, int correct)
    {
        double precision = predicted == 0 ? 0 : (double)correct / predicted;
        double recall = gold == 0 ? 0 : (double)correct / gold;
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new EntityTypeMetrics(type, precision, recall, f1, gold, predicted, correct);
    }

    /// <summary>
    /// The scores as JSON, fractions 0–1: <c>{"f1", "precision", "recall", "token_accuracy", "per_type": {"PER": {"f1",
    /// "precision", "recall", "support"}}}</c>, the names <c>evaluate --json</c> reports under <c>final</c>.
    /// </summary>
    public JsonObject ToJsonObject()
    {
        var perType = new JsonObject();
        foreach (var t in PerType)
        {
            perType[t.Type] = new JsonObject
            {
                ["f1"] = t.F1,
                ["precision"] = t.Precision,
                ["recall"] = t.Recall,
                ["support"] = t.Support,
            };
        }
        return new JsonObject
        {
            ["f1"] = F1,
            ["precision"] = Precision,
            ["recall"] = Recall,
            ["token_accuracy"] = TokenAccuracy,
            ["per_type"] = perType,
        };
    }
}
