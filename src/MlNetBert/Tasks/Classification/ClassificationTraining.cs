using System.Globalization;
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

namespace MlNetBert.Tasks;

/// <summary>
/// Training for text and sentence-pair classification: a key label, a linear head with one logit per class,
/// cross-entropy, accuracy on validation, graph outputs <c>logits</c> and <c>probabilities</c>, ML.NET columns
/// <c>Score</c> (probabilities) and <c>PredictedLabel</c> (a key with the label names).
/// </summary>
public sealed class ClassificationTraining : TrainingTask
{
    private ClassificationTraining(ClassificationTask inference) => Inference = inference;

    /// <summary>One text per row.</summary>
    public static ClassificationTraining Text { get; } = new(ClassificationTask.Text);

    /// <summary>Two texts per row.</summary>
    public static ClassificationTraining Pair { get; } = new(ClassificationTask.Pair);

    public override InferenceTask Inference { get; }

    public override bool KeyLabel => true;

    public override LabelKind FileLabels => LabelKind.Categorical;

    public override void CheckLabelColumn(SchemaShape.Column label)
    {
        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw new BadInputException($"label column '{label.Name}' must be a key type, found {MlNetSchema.Describe(label)}: add mlContext.Transforms.Conversion.MapValueToKey(\"{label.Name}\") before the trainer");
    }

    public override ModelCard FitLabels(ModelCard card, IReadOnlyList<string> keyNames, IReadOnlyList<LabelValue> train, string labelColumn)
    {
        for (int i = 0; i < train.Count; i++)
            if (train[i].Key == 0)
                throw new BadInputException($"training data, row {i + 1}: column '{labelColumn}' has a missing label");
        var distinct = train.Select(l => l.Key).Distinct().ToList();
        if (keyNames.Count < 2 || distinct.Count < 2)
            throw new BadInputException($"training data: fewer than two distinct labels in column '{labelColumn}' (found: {string.Join(", ", distinct.Select(k => keyNames.ElementAtOrDefault((int)k - 1)))})");
        return card with { Labels = [.. keyNames] };
    }

    public override TrainingTarget Target(LabelValue label, IReadOnlyList<string> keyNames, ModelCard card, string where, string labelColumn)
    {
        string name = label.Key >= 1 && label.Key <= keyNames.Count ? keyNames[(int)label.Key - 1] : label.Key.ToString(CultureInfo.InvariantCulture);
        int index = card.Labels.ToList().IndexOf(name);
        if (index < 0)
            throw new BadInputException($"{where}: label '{name}' in column '{labelColumn}' does not occur in the training data (known: {string.Join(", ", card.Labels)})");
        return new TrainingTarget(index, 0);
    }

    public override int HeadOutputs(ModelCard card) => card.Labels.Count;

    public override Tensor Loss(Tensor head, IReadOnlyList<TrainingExample> rows) =>
        nn.functional.cross_entropy(head, tensor(rows.Select(r => (long)r.Label).ToArray()));

    public override bool CanDistil => true;

    /// <summary>The teacher's logits in the student's label order (the log of its probabilities when it has no logits of its own).</summary>
    public override float[] TeacherTarget(Prediction prediction, ModelCard teacherCard, ModelCard card, string teacher)
    {
        if (!teacherCard.Labels.Order(StringComparer.Ordinal).SequenceEqual(card.Labels.Order(StringComparer.Ordinal), StringComparer.Ordinal))
            throw new BadInputException($"{teacher}: the teacher's labels [{string.Join(", ", teacherCard.Labels)}] differ from the training data's [{string.Join(", ", card.Labels)}]");
        float[] logits = prediction.Logits is { } l && l.All(float.IsFinite) ? l : prediction.Probabilities!.Select(p => MathF.Log(Math.Max(p, 1e-30f))).ToArray();
        return card.Labels.Select(label => logits[teacherCard.Labels.ToList().IndexOf(label)]).ToArray();
    }

    /// <summary>
    /// α·CE(labels) + (1 − α)·T²·KL(softmax(teacher/T) ‖ softmax(student/T)): the cross-entropy is the mean over rows
    /// with a label (0 when the batch has none), the KL divergence the mean over every row.
    /// </summary>
    public override Tensor DistillationLoss(Tensor head, IReadOnlyList<TrainingExample> rows, double alpha, double temperature)
    {
        long classes = head.shape[1];
        var labels = tensor(rows.Select(r => r.Unlabelled ? -100L : r.Label).ToArray());
        var hard = rows.Any(r => !r.Unlabelled) ? nn.functional.cross_entropy(head, labels, ignore_index: -100) : zeros([], head.dtype);
        var teacherLogits = tensor(rows.SelectMany(r => r.Teacher!).ToArray(), [rows.Count, classes]);
        var teacherLog = nn.functional.log_softmax(teacherLogits / temperature, 1);
        var studentLog = nn.functional.log_softmax(head / temperature, 1);
        var soft = (teacherLog.exp() * (teacherLog - studentLog)).sum() / rows.Count * (temperature * temperature);
        return hard * alpha + soft * (1 - alpha);
    }

    public override string ValidationMetricName => "accuracy";

    public override (double Metric, double Loss) Validate(IReadOnlyList<IReadOnlyList<float[]>> outputs, IReadOnlyList<TrainingExample> valid, ModelCard? card)
    {
        var head = outputs[0];
        int correct = 0;
        double nll = 0;
        for (int i = 0; i < valid.Count; i++)
        {
            var p = Scores.Softmax(head[i]);
            if (Scores.ArgMax(p) == valid[i].Label)
                correct++;
            nll -= Math.Log(Math.Max(p[valid[i].Label], 1e-15));
        }
        return ((double)correct / valid.Count, nll / valid.Count);
    }

    public override float[][] GraphOutputs(float[] head, ModelCard card) => [head, Scores.Softmax(head)];

    public override void CheckHead(ModelCard card, int outputs)
    {
        if (card.Labels.Count != outputs)
            throw new BadInputException($"task '{Name}': {card.Labels.Count} labels given, but classifier.weight has {outputs} rows (expected one label per row)");
        if (outputs < 2)
            throw new BadInputException($"task '{Name}' needs at least 2 labels, got {outputs}");
        var duplicate = card.Labels.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new BadInputException($"label '{duplicate.Key}' appears more than once (labels must be distinct)");
    }

    internal override void WriteOnnxHead(OnnxGraphBuilder graph, string logits, int outputs, ModelCard card, Func<string, string> constant)
    {
        graph.Node("Softmax", [logits], ModelFileFormat.Probabilities, Int("axis", -1));
        graph.Output(ModelFileFormat.Logits, TensorProto.Types.DataType.Float, "batch", (long)outputs);
        graph.Output(ModelFileFormat.Probabilities, TensorProto.Types.DataType.Float, "batch", (long)outputs);
    }

    /// <summary>
    /// Float32 logits within the tolerance and every label the same; float16 probabilities within 1e-2 and at least
    /// 99% of labels the same; int8 differences reported and at least 97% of labels the same.
    /// </summary>
    public override VariantCheck ParityRule(OnnxExportOptions options, double tolerance, ModelCard card)
    {
        if (options.Quantize == OnnxQuantization.Int8)
            return new VariantCheck(ModelFileFormat.Logits, double.PositiveInfinity, VariantCheck.Int8MinArgmaxAgreement);
        if (options.Float16)
            return new VariantCheck(ModelFileFormat.Probabilities, VariantCheck.Float16Tolerance, VariantCheck.Float16MinArgmaxAgreement);
        return new VariantCheck(ModelFileFormat.Logits, tolerance, 1.0);
    }

    public override void AddOutputColumns(DataViewSchema.Builder builder, string scoreColumn, string predictedLabelColumn, IReadOnlyList<string> labels)
    {
        var slotNames = new DataViewSchema.Annotations.Builder();
        MlNetSchema.AddTextVector(slotNames, "SlotNames", labels);
        builder.AddColumn(scoreColumn, new VectorDataViewType(NumberDataViewType.Single, labels.Count), slotNames.ToAnnotations());
        var keyValues = new DataViewSchema.Annotations.Builder();
        MlNetSchema.AddTextVector(keyValues, "KeyValues", labels);
        builder.AddColumn(predictedLabelColumn, new KeyDataViewType(typeof(uint), labels.Count), keyValues.ToAnnotations());
    }

    public override Delegate OutputGetter(DataViewSchema.Column column, string scoreColumn, Func<Prediction> current)
    {
        if (column.Name == scoreColumn)
            return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) =>
            {
                var p = current().Probabilities!;
                var editor = VBufferEditor.Create(ref v, p.Length);
                p.CopyTo(editor.Values);
                v = editor.Commit();
            });
        return (ValueGetter<uint>)((ref uint v) => v = (uint)Scores.ArgMax(current().Probabilities!) + 1);
    }

    public override (JsonObject Json, string Text) Evaluate(IReadOnlyList<Prediction> predictions, IReadOnlyList<TabularRow> rows, ModelCard card, string source)
    {
        var labels = card.Labels.ToList();
        var truth = new List<int>(rows.Count);
        foreach (var r in rows)
        {
            int index = labels.IndexOf(r.Label ?? "");
            if (index < 0)
                throw new BadInputException($"{source}:{r.Line}: label '{r.Label}' is not one the model knows (known: {string.Join(", ", labels)})");
            truth.Add(index);
        }
        var probabilities = predictions.Select(p => p.Probabilities!).ToList();
        var m = ClassificationMetrics.Compute(truth, probabilities.Select(Scores.ArgMax).ToList(), probabilities, labels);
        return (m.ToJsonObject(), $"accuracy {m.Accuracy:F4}, macro-F1 {m.MacroF1:F4}, log-loss {m.LogLoss:F4} ({m.Count} rows)\n\n{m.ToMarkdown()}");
    }
}
