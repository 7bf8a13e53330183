using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Data;
using MlNetBert.Evaluation;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Training;
using Onnx;
using static MlNetBert.Export.OnnxGraphBuilder;
using static TorchSharp.torch;
using RegressionMetrics = MlNetBert.Evaluation.RegressionMetrics;

namespace MlNetBert.Tasks;

/// <summary>
/// Training for a sentence-similarity cross-encoder: a Single label, scaled to 0..1 by the training range (the card
/// keeps the scale and offset), one head output, MSE, Spearman on validation, graph output <c>score</c> on the
/// label's scale, ML.NET column <c>Score</c>.
/// </summary>
public sealed class SentenceSimilarityTraining : TrainingTask
{
    private SentenceSimilarityTraining()
    {
    }

    /// <summary>The one instance.</summary>
    public static SentenceSimilarityTraining Instance { get; } = new();

    public override InferenceTask Inference => SentenceSimilarityTask.Instance;

    public override bool KeyLabel => false;

    public override LabelKind FileLabels => LabelKind.Numeric;

    public override void CheckLabelColumn(SchemaShape.Column label)
    {
        if (label.Kind != SchemaShape.Column.VectorKind.Scalar || label.ItemType != NumberDataViewType.Single)
            throw new BadInputException($"label column '{label.Name}' must be Single (a similarity score), found {MlNetSchema.Describe(label)}");
    }

    public override ModelCard FitLabels(ModelCard card, IReadOnlyList<string> keyNames, IReadOnlyList<LabelValue> train, string labelColumn)
    {
        for (int i = 0; i < train.Count; i++)
            if (!float.IsFinite(train[i].Score))
                throw new BadInputException($"training data, row {i + 1}: column '{labelColumn}' value {train[i].Score} is not a finite number");
        float offset = train.Min(r => r.Score);
        float scale = Math.Max(1e-6f, train.Max(r => r.Score) - offset);
        return card with { Labels = [], ScoreOffset = offset, ScoreScale = scale };
    }

    public override TrainingTarget Target(LabelValue label, IReadOnlyList<string> keyNames, ModelCard card, string where, string labelColumn)
    {
        if (!float.IsFinite(label.Score))
            throw new BadInputException($"{where}: column '{labelColumn}' value {label.Score} is not a finite number");
        return new TrainingTarget(0, (label.Score - card.ScoreOffset) / card.ScoreScale);
    }

    public override int HeadOutputs(ModelCard card) => 1;

    public override Tensor Loss(Tensor head, IReadOnlyList<TrainingExample> rows) =>
        nn.functional.mse_loss(head.squeeze(-1), tensor(rows.Select(r => r.Target).ToArray()));

    public override bool CanDistil => true;

    /// <summary>The teacher's score, scaled to 0..1 by the student's training range like <see cref="TrainingExample.Target"/>.</summary>
    public override float[] TeacherTarget(Prediction prediction, ModelCard teacherCard, ModelCard card, string teacher) =>
        [(prediction.Score!.Value - card.ScoreOffset) / card.ScoreScale];

    /// <summary>α·MSE(label) on the rows with a label (0 when the batch has none) + (1 − α)·MSE(teacher's score) on every row.</summary>
    public override Tensor DistillationLoss(Tensor head, IReadOnlyList<TrainingExample> rows, double alpha, double temperature)
    {
        var predicted = head.squeeze(-1);
        var labelled = Enumerable.Range(0, rows.Count).Where(i => !rows[i].Unlabelled).Select(i => (long)i).ToArray();
        var hard = labelled.Length == 0 ? zeros([], head.dtype)
            : nn.functional.mse_loss(predicted.index_select(0, tensor(labelled)), tensor(labelled.Select(i => rows[(int)i].Target).ToArray()));
        var soft = nn.functional.mse_loss(predicted, tensor(rows.Select(r => r.Teacher![0]).ToArray()));
        return hard * alpha + soft * (1 - alpha);
    }

    public override string ValidationMetricName => "spearman";

    public override (double Metric, double Loss) Validate(IReadOnlyList<IReadOnlyList<float[]>> outputs, IReadOnlyList<TrainingExample> valid, ModelCard? card)
    {
        var head = outputs[0];
        var predicted = head.Select(o => o[0]).ToArray();
        var truth = valid.Select(v => v.Target).ToArray();
        double mse = predicted.Zip(truth, (p, t) => (double)(p - t) * (p - t)).Average();
        return (RegressionMetrics.Compute(truth, predicted).Spearman, mse);
    }

    public override float[][] GraphOutputs(float[] head, ModelCard card) => [[head[0] * card.ScoreScale + card.ScoreOffset]];

    public override void CheckHead(ModelCard card, int outputs)
    {
        if (outputs != 1)
            throw new BadInputException($"task '{Name}' needs a classifier with 1 output, but classifier.weight has {outputs} rows");
        if (card.Labels.Count != 0)
            throw new BadInputException($"task '{Name}' has no labels, but {card.Labels.Count} were given");
        if (!float.IsFinite(card.ScoreScale) || !float.IsFinite(card.ScoreOffset))
            throw new BadInputException($"score scale {card.ScoreScale} and offset {card.ScoreOffset} must be finite numbers");
    }

    internal override void WriteOnnxHead(OnnxGraphBuilder graph, string logits, int outputs, ModelCard card, Func<string, string> constant)
    {
        string first = graph.Node("Gather", [logits, constant("const.zero")], "similarity.logit", Int("axis", 1));
        string scaled = graph.Node("Mul", [first, graph.Scalar("similarity.score_scale", card.ScoreScale)], "similarity.scaled");
        graph.Node("Add", [scaled, graph.Scalar("similarity.score_offset", card.ScoreOffset)], ModelFileFormat.Score);
        graph.Output(ModelFileFormat.Score, TensorProto.Types.DataType.Float, "batch");
    }

    /// <summary>Float32 scores within the tolerance; float16 within 1e-2 per unit of score scale; int8 differences reported.</summary>
    public override VariantCheck ParityRule(OnnxExportOptions options, double tolerance, ModelCard card)
    {
        if (options.Quantize == OnnxQuantization.Int8)
            return new VariantCheck(ModelFileFormat.Score, double.PositiveInfinity, VariantCheck.Int8MinArgmaxAgreement);
        if (options.Float16)
            return new VariantCheck(ModelFileFormat.Score, VariantCheck.Float16Tolerance * Math.Max(1, Math.Abs(card.ScoreScale)), 0);
        return new VariantCheck(ModelFileFormat.Score, tolerance, 1.0);
    }

    public override void AddOutputColumns(DataViewSchema.Builder builder, string scoreColumn, string predictedLabelColumn, IReadOnlyList<string> labels) =>
        builder.AddColumn(scoreColumn, NumberDataViewType.Single);

    public override Delegate OutputGetter(DataViewSchema.Column column, string scoreColumn, Func<Prediction> current) =>
        (ValueGetter<float>)((ref float v) => v = current().Score!.Value);

    public override (JsonObject Json, string Text) Evaluate(IReadOnlyList<Prediction> predictions, IReadOnlyList<TabularRow> rows, ModelCard card, string source)
    {
        var m = RegressionMetrics.Compute(rows.Select(r => r.Score ?? 0).ToList(), predictions.Select(p => p.Score ?? float.NaN).ToList());
        return (m.ToJsonObject(), $"pearson {m.Pearson:F4}, spearman {m.Spearman:F4}, mse {m.Mse:F4}, mae {m.Mae:F4} ({m.Count} rows)");
    }
}
