using System.Globalization;
using System.Text.Json.Nodes;
using MlNetBert.Inference;

namespace MlNetBert.Evaluation;

/// <summary>
/// How well (anchor, positive) pairs find each other: every anchor searches all positives (the corpus) by cosine
/// similarity, and its own positive is the one right answer. As sentence-transformers' information-retrieval
/// evaluator with one relevant document per query.
/// </summary>
/// <param name="RecallAt1">Fraction of anchors whose nearest positive is their own.</param>
/// <param name="MrrAt10">Mean of 1/rank of the own positive, counted as 0 when it ranks below 10.</param>
/// <param name="Count">How many pairs (queries, and documents in the corpus).</param>
public sealed record RetrievalMetrics(double RecallAt1, double MrrAt10, int Count)
{
    /// <summary>Scores anchors against positives; row i of each is one pair.</summary>
    /// <exception cref="ArgumentException">The lists differ in length or are empty.</exception>
    public static RetrievalMetrics Compute(IReadOnlyList<float[]> anchors, IReadOnlyList<float[]> positives)
    {
        ArgumentNullException.ThrowIfNull(anchors);
        ArgumentNullException.ThrowIfNull(positives);
        if (anchors.Count == 0)
            throw new ArgumentException("no pairs to score", nameof(anchors));
        if (anchors.Count != positives.Count)
            throw new ArgumentException($"{anchors.Count} anchors but {positives.Count} positives (expected one positive per anchor)", nameof(positives));
        int n = anchors.Count;
        var similarity = new double[n];
        int top1 = 0;
        double reciprocal = 0;
        for (int q = 0; q < n; q++)
        {
            for (int d = 0; d < n; d++)
                similarity[d] = SentenceEmbeddingTask.Cosine(anchors[q], positives[d]);
            // Rank of the own positive: 1 + documents scoring strictly higher (ties favour the right answer, as a
            // stable sort that lists the query's own index first would).
            int rank = 1;
            for (int d = 0; d < n; d++)
                if (d != q && similarity[d] > similarity[q])
                    rank++;
            if (rank == 1)
                top1++;
            if (rank <= 10)
                reciprocal += 1.0 / rank;
        }
        return new RetrievalMetrics((double)top1 / n, reciprocal / n, n);
    }

    /// <summary>The metrics as JSON: <c>count</c>, <c>recall_at_1</c>, <c>mrr_at_10</c>.</summary>
    public JsonObject ToJsonObject() => new()
    {
        ["count"] = Count,
        ["recall_at_1"] = RecallAt1,
        ["mrr_at_10"] = MrrAt10,
    };

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"recall@1 {RecallAt1:F4}, MRR@10 {MrrAt10:F4} ({Count} pairs, every positive in the corpus)");
}
