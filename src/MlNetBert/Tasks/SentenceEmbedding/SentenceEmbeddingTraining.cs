using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Evaluation;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Tokenization;
using MlNetBert.Training;
using Onnx;
using static MlNetBert.Export.OnnxGraphBuilder;
using static TorchSharp.torch;
using RegressionMetrics = MlNetBert.Evaluation.RegressionMetrics;

namespace MlNetBert.Tasks;

/// <summary>The objective a bi-encoder is fine-tuned with (as sentence-transformers names them).</summary>
public enum EmbeddingLoss
{
    /// <summary>
    /// Pairs with a score (STS-B): MSE between cos(u, v) and the score scaled to 0..1 by the training range.
    /// Validation metric: Spearman of the cosines against the scores.
    /// </summary>
    CosineSimilarity,

    /// <summary>
    /// (anchor, positive) pairs, every other positive of the batch a negative: cross-entropy over
    /// <see cref="SentenceEmbeddingTraining.MultipleNegativesScale"/> × cos(anchor, positives). Labels are not read.
    /// Validation metric: recall@1 with every validation positive in the corpus. Bigger batches give more negatives.
    /// </summary>
    MultipleNegativesRanking,
}

/// <summary>
/// Training for a sentence-embedding bi-encoder: no head (the pooled vector is the output), each text of a pair goes
/// through the encoder on its own, and the loss compares the two vectors (<see cref="EmbeddingLoss"/>). The exported
/// graph pools and, per the card, L2-normalises inside it (output <c>embedding</c>); the ML.NET column is a vector of
/// <see cref="ModelCard.EmbeddingDimension"/> floats.
/// </summary>
/// <remarks>
/// One instance per loss; both are the same inference task, and the registry lists <see cref="CosineSimilarity"/>
/// (what a loaded model needs from its task does not depend on how it was trained).
/// </remarks>
public sealed class SentenceEmbeddingTraining : TrainingTask
{
    /// <summary>sentence-transformers' default scale of MultipleNegativesRankingLoss: cosines in [-1, 1] become logits in [-20, 20].</summary>
    public const float MultipleNegativesScale = 20f;

    private SentenceEmbeddingTraining(EmbeddingLoss loss) => Objective = loss;

    /// <summary>Scored pairs, cosine-similarity loss.</summary>
    public static SentenceEmbeddingTraining CosineSimilarity { get; } = new(EmbeddingLoss.CosineSimilarity);

    /// <summary>(anchor, positive) pairs, multiple-negatives ranking loss.</summary>
    public static SentenceEmbeddingTraining MultipleNegativesRanking { get; } = new(EmbeddingLoss.MultipleNegativesRanking);

    /// <summary>The instance for <paramref name="loss"/>.</summary>
    public static SentenceEmbeddingTraining For(EmbeddingLoss loss) =>
        loss == EmbeddingLoss.MultipleNegativesRanking ? MultipleNegativesRanking : CosineSimilarity;

    /// <summary>The loss this instance trains with.</summary>
    public EmbeddingLoss Objective { get; }

    public override InferenceTask Inference => SentenceEmbeddingTask.Instance;

    public override bool KeyLabel => false;

    public override LabelKind FileLabels => Objective == EmbeddingLoss.CosineSimilarity ? LabelKind.Numeric : LabelKind.None;

    public override bool ReadsLabel => Objective == EmbeddingLoss.CosineSimilarity;

    public override bool HasHead => false;

    public override bool EncodesPairSeparately => true;

    public override LabelKind EvaluationLabels(string? labelColumn) => labelColumn is null ? LabelKind.None : LabelKind.Numeric;

    public override string? Variant => Objective == EmbeddingLoss.MultipleNegativesRanking ? "multiple-negatives-ranking" : "cosine-similarity";

    public override void CheckLabelColumn(SchemaShape.Column label)
    {
        if (Objective == EmbeddingLoss.CosineSimilarity
            && (label.Kind != SchemaShape.Column.VectorKind.Scalar || label.ItemType != NumberDataViewType.Single))
            throw new BadInputException($"label column '{label.Name}' must be Single (a similarity score) for the cosine-similarity loss, found {MlNetSchema.Describe(label)}");
    }

    public override ModelCard FitLabels(ModelCard card, IReadOnlyList<string> keyNames, IReadOnlyList<LabelValue> train, string labelColumn)
    {
        card = card with { Labels = [] };
        if (Objective != EmbeddingLoss.CosineSimilarity)
            return card;
        for (int i = 0; i < train.Count; i++)
            if (!float.IsFinite(train[i].Score))
                throw new BadInputException($"training data, row {i + 1}: column '{labelColumn}' value {train[i].Score} is not a finite number");
        // Scores map to 0..1 by the training range, as sentence-transformers divides STS-B's 0..5 by 5: the cosine of
        // the most similar pairs is pulled toward 1, of unrelated ones toward 0.
        float offset = train.Min(r => r.Score);
        float scale = Math.Max(1e-6f, train.Max(r => r.Score) - offset);
        return card with { ScoreOffset = offset, ScoreScale = scale };
    }

    public override ModelCard CompleteCard(ModelCard card, BertConfig config) =>
        // The model embeds one text at a time: the second column is training data, not an input of the model.
        card with { EmbeddingDimension = config.HiddenSize, Normalize = true, Text2Column = null, Labels = [] };

    public override TrainingTarget Target(LabelValue label, IReadOnlyList<string> keyNames, ModelCard card, string where, string labelColumn)
    {
        if (Objective != EmbeddingLoss.CosineSimilarity)
            return new TrainingTarget(0, 1);
        if (!float.IsFinite(label.Score))
            throw new BadInputException($"{where}: column '{labelColumn}' value {label.Score} is not a finite number");
        return new TrainingTarget(0, (label.Score - card.ScoreOffset) / card.ScoreScale);
    }

    public override int HeadOutputs(ModelCard card) => 0;

    public override IReadOnlyList<IReadOnlyList<EncodedText>> ForwardInputs(IReadOnlyList<TrainingExample> rows)
    {
        if (rows.Any(r => r.Input2 is null))
            throw new BadInputException($"task '{Name}' trains on pairs of texts: give a second text column");
        return [rows.Select(r => r.Input).ToList(), rows.Select(r => r.Input2!.Value).ToList()];
    }

    public override Tensor Loss(Tensor head, IReadOnlyList<TrainingExample> rows) =>
        throw new InvalidOperationException($"task '{Name}' compares two embeddings per row: call Loss with the outputs of both ForwardInputs");

    public override Tensor Loss(IReadOnlyList<Tensor> outputs, IReadOnlyList<TrainingExample> rows)
    {
        var (u, v) = (outputs[0], outputs[1]);
        if (Objective == EmbeddingLoss.CosineSimilarity)
            return nn.functional.mse_loss(nn.functional.cosine_similarity(u, v, 1, 1e-8), tensor(rows.Select(r => r.Target).ToArray()));
        // Row i's positive is column i; every other row's positive is a negative for it.
        var scores = nn.functional.normalize(u, 2, 1).mm(nn.functional.normalize(v, 2, 1).t()) * MultipleNegativesScale;
        return nn.functional.cross_entropy(scores, arange(rows.Count, ScalarType.Int64));
    }

    public override string ValidationMetricName => Objective == EmbeddingLoss.CosineSimilarity ? "spearman" : "recall_at_1";

    public override (double Metric, double Loss) Validate(IReadOnlyList<IReadOnlyList<float[]>> outputs, IReadOnlyList<TrainingExample> valid, ModelCard? card)
    {
        var (u, v) = (outputs[0], outputs[1]);
        if (Objective == EmbeddingLoss.MultipleNegativesRanking)
        {
            var retrieval = RetrievalMetrics.Compute(u, v);
            return (retrieval.RecallAt1, MultipleNegativesLoss(u, v));
        }
        var cosines = u.Select((a, i) => (float)SentenceEmbeddingTask.Cosine(a, v[i])).ToArray();
        var truth = valid.Select(r => r.Target).ToArray();
        double mse = cosines.Zip(truth, (p, t) => (double)(p - t) * (p - t)).Average();
        return (RegressionMetrics.Compute(truth, cosines).Spearman, mse);
    }

    // The validation loss of the ranking objective over the whole validation set at once (every positive a candidate).
    private static double MultipleNegativesLoss(IReadOnlyList<float[]> anchors, IReadOnlyList<float[]> positives)
    {
        double total = 0;
        var logits = new double[positives.Count];
        for (int q = 0; q < anchors.Count; q++)
        {
            for (int d = 0; d < positives.Count; d++)
                logits[d] = MultipleNegativesScale * SentenceEmbeddingTask.Cosine(anchors[q], positives[d]);
            double max = logits.Max();
            total += max + Math.Log(logits.Sum(l => Math.Exp(l - max))) - logits[q];
        }
        return total / anchors.Count;
    }

    public override float[][] GraphOutputs(float[] head, ModelCard card) => [card.Normalize ? L2Normalized(head) : head];

    /// <summary>x / max(‖x‖₂, 1e-12), as torch.nn.functional.normalize and the exported graph compute it.</summary>
    public static float[] L2Normalized(float[] x)
    {
        double sum = 0;
        foreach (float v in x)
            sum += (double)v * v;
        float norm = (float)Math.Max(Math.Sqrt(sum), 1e-12);
        return x.Select(v => v / norm).ToArray();
    }

    public override void CheckHead(ModelCard card, int outputs)
    {
        if (card.EmbeddingDimension != outputs)
            throw new BadInputException($"task '{Name}': the card's embedding dimension is {card.EmbeddingDimension}, but the encoder's hidden size is {outputs}");
        if (card.Labels.Count != 0)
            throw new BadInputException($"task '{Name}' has no labels, but {card.Labels.Count} were given");
    }

    internal override void WriteOnnxHead(OnnxGraphBuilder graph, string pooled, int outputs, ModelCard card, Func<string, string> constant)
    {
        if (card.Normalize)
        {
            // Written out (rather than LpNormalization, which divides by a zero norm) so an empty row gives 0, not NaN,
            // exactly as torch's normalize: x / max(sqrt(sum x²), 1e-12).
            string squares = graph.Node("Mul", [pooled, pooled], "embedding.squares");
            string sum = graph.Node("ReduceSum", [squares, graph.Int64s("embedding.axes_last", [-1])], "embedding.sum_squares", Int("keepdims", 1));
            string norm = graph.Node("Sqrt", [sum], "embedding.norm");
            string safe = graph.Node("Max", [norm, graph.Scalar("embedding.min_norm", 1e-12f)], "embedding.norm_safe");
            graph.Node("Div", [pooled, safe], ModelFileFormat.Embedding);
        }
        else
        {
            graph.Node("Identity", [pooled], ModelFileFormat.Embedding);
        }
        graph.Output(ModelFileFormat.Embedding, TensorProto.Types.DataType.Float, "batch", (long)outputs);
    }

    /// <summary>Minimum cosine similarity per row between a float32 export and TorchSharp.</summary>
    public const double Float32MinCosine = 0.9999;

    /// <summary>Minimum cosine per row for a float16 export.</summary>
    public const double Float16MinCosine = 0.999;

    /// <summary>
    /// Minimum cosine per row for an int8 export (dynamic quantization of every MatMul weight, per output column).
    /// Measured on all-MiniLM-L6-v2 over 64 STS-B dev sentences: 0.9898 for the worst row (a short one; most rows are
    /// above 0.995), so the rule is 0.98 rather than 0.99: strict enough to catch a broken quantization (an unscaled
    /// or transposed weight gives cosines near 0), loose enough for what int8 weights honestly cost.
    /// </summary>
    public const double Int8MinCosine = 0.98;

    /// <summary>
    /// Every row's vector within <see cref="Float32MinCosine"/> of TorchSharp's (float32, plain or optimized; values
    /// also within the tolerance), <see cref="Float16MinCosine"/> (float16) or <see cref="Int8MinCosine"/> (int8).
    /// A top-label agreement means nothing for a vector, so it is not required.
    /// </summary>
    public override VariantCheck ParityRule(OnnxExportOptions options, double tolerance, ModelCard card)
    {
        if (options.Quantize == OnnxQuantization.Int8)
            return new VariantCheck(ModelFileFormat.Embedding, double.PositiveInfinity, 0) { MinCosine = Int8MinCosine };
        if (options.Float16)
            return new VariantCheck(ModelFileFormat.Embedding, double.PositiveInfinity, 0) { MinCosine = Float16MinCosine };
        return new VariantCheck(ModelFileFormat.Embedding, tolerance, 0) { MinCosine = Float32MinCosine };
    }

    public override void AddOutputColumns(DataViewSchema.Builder builder, string scoreColumn, string predictedLabelColumn, IReadOnlyList<string> labels) =>
        // Before fitting the dimension is not known yet: a vector of unknown length.
        builder.AddColumn(scoreColumn, new VectorDataViewType(NumberDataViewType.Single));

    public override void AddOutputColumns(DataViewSchema.Builder builder, string scoreColumn, string predictedLabelColumn, ModelCard card) =>
        builder.AddColumn(scoreColumn, new VectorDataViewType(NumberDataViewType.Single, card.EmbeddingDimension));

    public override Delegate OutputGetter(DataViewSchema.Column column, string scoreColumn, Func<Prediction> current) =>
        (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
        {
            var e = current().Embedding!;
            var editor = VBufferEditor.Create(ref v, e.Length);
            e.CopyTo(editor.Values);
            v = editor.Commit();
        });

    public override (JsonObject Json, string Text) Evaluate(IReadOnlyList<Prediction> predictions, IReadOnlyList<TabularRow> rows, ModelCard card, string source) =>
        throw new BadInputException($"{source}: a '{Name}' model is evaluated on pairs of texts (the cosine of their vectors): give a second text column");

    /// <summary>
    /// Embeds both texts of every row. Rows with a score give Pearson and Spearman of the cosine against it (STS-B);
    /// rows without one are (anchor, positive) pairs and give recall@1 and MRR@10 with every positive as the corpus.
    /// </summary>
    public override (JsonObject Json, string Text) Evaluate(IBertPredictor model, IReadOnlyList<TabularRow> rows, string source)
    {
        if (rows.Count == 0)
            throw new BadInputException($"{source}: no rows to evaluate");
        var missing = rows.FirstOrDefault(r => r.Text2 is null);
        if (missing is not null)
            throw new BadInputException($"{source}:{missing.Line}: no second text (a '{Name}' model is evaluated on pairs: give --text2-column)");
        var a = model.PredictBatch(rows.Select(r => r.Text).ToList()).Select(p => p.Embedding!).ToList();
        var b = model.PredictBatch(rows.Select(r => r.Text2!).ToList()).Select(p => p.Embedding!).ToList();
        if (rows.All(r => r.Score is not null))
        {
            var cosines = a.Select((u, i) => (float)SentenceEmbeddingTask.Cosine(u, b[i])).ToList();
            var m = RegressionMetrics.Compute(rows.Select(r => r.Score!.Value).ToList(), cosines);
            var json = new JsonObject { ["count"] = m.Count, ["pearson"] = m.Pearson, ["spearman"] = m.Spearman };
            return (json, $"cosine similarity against the scores: pearson {m.Pearson:F4}, spearman {m.Spearman:F4} ({m.Count} pairs)");
        }
        var r = RetrievalMetrics.Compute(a, b);
        return (r.ToJsonObject(), r.ToString());
    }
}
