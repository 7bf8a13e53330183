using System.Globalization;

namespace MlNetBert.Inference;

/// <summary>
/// One text in, one vector out (a bi-encoder, as sentence-transformers): the encoder's tokens mean-pooled (the card's
/// pooling) and, when <see cref="ModelCard.Normalize"/> is set, L2-normalised inside the graph, so the dot product of
/// two outputs is their cosine similarity. Graph output <c>embedding</c>, [batch, <see cref="ModelCard.EmbeddingDimension"/>].
/// </summary>
/// <remarks>
/// Pairs are compared outside the model (cosine of two vectors), which is what makes the vectors reusable: index a
/// corpus once, then search, cluster or feed them to another learner.
/// </remarks>
public sealed class SentenceEmbeddingTask : InferenceTask
{
    /// <summary>The task's name.</summary>
    public const string TaskName = "sentence-embedding";

    private SentenceEmbeddingTask()
    {
    }

    /// <summary>The one instance.</summary>
    public static SentenceEmbeddingTask Instance { get; } = new();

    public override string Name => TaskName;

    public override string Description => "one text in, one embedding vector out";

    public override bool ReadsPair => false;

    public override bool HasLabels => false;

    public override IReadOnlyList<string> OutputNames { get; } = [ModelFileFormat.Embedding];

    public override void Validate(ModelCard card, string source)
    {
        base.Validate(card, source);
        if (card.EmbeddingDimension < 1)
            throw new BadInputException($"{source}: task '{Name}' needs '{ModelFileFormat.EmbeddingDimensionKey}' (the vector's length), but it is missing");
    }

    public override IReadOnlyList<int> OutputWidths(ModelCard card) => [card.EmbeddingDimension];

    public override Prediction Decode(IReadOnlyList<float[]> outputs, ModelCard card) => new(null, null, null, null) { Embedding = outputs[0] };

    public override PredictionOutput ToOutput(Prediction prediction, ModelCard card) => new EmbeddingOutput(prediction.Embedding!);

    public override string Describe(Prediction prediction, ModelCard card)
    {
        var v = prediction.Embedding!;
        double norm = Math.Sqrt(v.Sum(x => (double)x * x));
        string head = string.Join(' ', v.Take(6).Select(x => x.ToString("F4", CultureInfo.InvariantCulture)));
        return string.Create(CultureInfo.InvariantCulture, $"embedding [{v.Length}]: {head} ... (norm {norm:F4})");
    }

    public override IReadOnlyList<string> TableColumns(ModelCard card) => ["embedding"];

    // One cell of space-separated numbers: a TSV row stays one row per input whatever the dimension.
    public override IEnumerable<string> TableCells(Prediction prediction, ModelCard card) =>
        [string.Join(' ', prediction.Embedding!.Select(x => x.ToString("R", CultureInfo.InvariantCulture)))];

    /// <summary>Cosine similarity of two vectors (0 when either is all zeros); for normalised vectors, their dot product.</summary>
    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"vectors of length {a.Length} and {b.Length} cannot be compared");
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }
}
