using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Data;
using MlNetBert.Data.QuestionAnswering;
using MlNetBert.Evaluation;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.MlNet;
using MlNetBert.Tokenization;
using MlNetBert.Training;
using Onnx;
using static MlNetBert.Export.OnnxGraphBuilder;
using static TorchSharp.torch;

namespace MlNetBert.Tasks;

/// <summary>One window of a question, as a training example carries it: the question's encoding, which window, and its gold answers.</summary>
/// <param name="Encoding">The question's encoding (shared by all its windows, which lets validation group them).</param>
/// <param name="Window">This example's window in <see cref="QuestionAnswerEncoding.Inputs"/>.</param>
/// <param name="GoldAnswers">The question's gold answer texts, for SQuAD exact match and F1.</param>
public sealed record QuestionWindow(QuestionAnswerEncoding Encoding, int Window, IReadOnlyList<string> GoldAnswers);

/// <summary>
/// Training for extractive question answering, Hugging Face's <c>run_qa</c> way: the first text is the question, the
/// second the context, the label the answer's text and <see cref="BertTrainingOptions.AnswerIndexColumnName"/> its
/// character offset into the context. Each question becomes one example per window over its context
/// (<see cref="QuestionAnswerEncoding"/>); a window holding the whole answer is trained toward its first and last
/// sub-token, the others toward [CLS] (position 0). The head has two outputs per token (start and end logits); the
/// loss is the mean of the start and end cross-entropies. Validation is SQuAD F1 over the questions, each decoded from
/// all its windows as inference does (<see cref="QuestionAnsweringTask.Search"/>). ML.NET columns: <c>Answer</c> (the
/// best answers' texts) and <c>Score</c> (their probabilities).
/// </summary>
public sealed class QuestionAnswerTraining : TrainingTask
{
    private QuestionAnswerTraining()
    {
    }

    /// <summary>The one instance.</summary>
    public static QuestionAnswerTraining Instance { get; } = new();

    /// <summary>
    /// 384-token windows, 8 per batch, 2 batches per optimizer step (an effective batch of 16). The windows are
    /// memory-hungry: on 300 SQuAD questions the peak working set was 5.06 GiB at batch 16 and 3.46 GiB at 8 x 2, at
    /// the same speed (docs/benchmarks.md).
    /// </summary>
    public override TrainingShape DefaultShape { get; } = new(384, 8, 2);

    public override InferenceTask Inference => QuestionAnsweringTask.Instance;

    public override bool KeyLabel => false;

    public override LabelKind FileLabels => LabelKind.Categorical;

    public override bool ReadsAnswerSpan => true;

    public override void CheckLabelColumn(SchemaShape.Column label)
    {
        if (label.ItemType is not TextDataViewType)
            throw new BadInputException($"answer column '{label.Name}' must be a string (the answer's text) or a vector of strings (every gold answer, the first trained on), found {MlNetSchema.Describe(label)}");
    }

    /// <summary>Records the windows' stride, the longest answer and the answer count in the card.</summary>
    public override ModelCard Configure(ModelCard card, BertTrainingOptions options)
    {
        if (card.MaxLength < QuestionAnsweringTask.MinMaxLength)
            throw new BadInputException($"option MaxSequenceLength = {card.MaxLength} is invalid for question answering: expected at least {QuestionAnsweringTask.MinMaxLength} (default 384)");
        return card with { DocStride = options.DocStride, MaxAnswerLength = options.MaxAnswerLength, AnswerCount = options.AnswerCount };
    }

    public override ModelCard FitLabels(ModelCard card, IReadOnlyList<string> keyNames, IReadOnlyList<LabelValue> train, string labelColumn) => card;

    /// <summary>Not used: a question's targets are per window (<see cref="Examples"/>).</summary>
    public override TrainingTarget Target(LabelValue label, IReadOnlyList<string> keyNames, ModelCard card, string where, string labelColumn) =>
        throw new NotSupportedException($"task '{Name}' trains answer spans per window; its examples come from Examples");

    /// <summary>Encodes the question and context in windows; each window's target is the answer's first and last position, or [CLS].</summary>
    public override IReadOnlyList<TrainingExample> Examples(string text, string? text2, LabelValue label, IReadOnlyList<string> keyNames, ModelCard card,
        BertTextEncoder encoder, string where, string labelColumn)
    {
        var answers = label.Answers is { Count: > 0 } a ? a : throw new BadInputException($"{where}: no answer in column '{labelColumn}'");
        string context = text2 ?? "";
        QuestionAnswerEncoding encoding;
        try
        {
            encoding = QuestionAnsweringTask.Encode(new WordPieceAligner(encoder), text, context, card);
        }
        catch (BadInputException ex)
        {
            throw new BadInputException($"{where}: {ex.Message}", ex);
        }
        foreach (var answer in answers)
            if (QuestionAnswerData.ProblemWith(answer, context) is { } problem)
                throw new BadInputException($"{where}: {problem}");
        var targets = AnswerTargets.ForWindows(encoding, answers[0]);
        var question = answers.Select(g => g.Text).ToArray();
        return encoding.Inputs.Select((input, w) => new TrainingExample(input, 0, 0)
        {
            TokenLabels = [targets[w].Start, targets[w].End],
            Question = new QuestionWindow(encoding, w, question),
        }).ToArray();
    }

    public override int HeadOutputs(ModelCard card) => 2;

    /// <summary>(cross-entropy of the start logits + cross-entropy of the end logits) / 2, each over the batch's windows.</summary>
    public override Tensor Loss(Tensor head, IReadOnlyList<TrainingExample> rows)
    {
        var starts = new long[rows.Count];
        var ends = new long[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            var t = rows[r].TokenLabels ?? throw new InvalidOperationException("a question-answering example without its answer positions");
            (starts[r], ends[r]) = (t[0], t[1]);
        }
        var startLogits = head.select(2, 0);
        var endLogits = head.select(2, 1);
        return (nn.functional.cross_entropy(startLogits, tensor(starts)) + nn.functional.cross_entropy(endLogits, tensor(ends))) / 2;
    }

    public override string ValidationMetricName => "f1";

    /// <summary>
    /// SQuAD F1 over the validation questions (each decoded from all its windows, best answer against its gold answers)
    /// and the mean loss over the windows.
    /// </summary>
    public override (double Metric, double Loss) Validate(IReadOnlyList<IReadOnlyList<float[]>> outputs, IReadOnlyList<TrainingExample> valid, ModelCard? card)
    {
        var head = outputs[0];
        card ??= new ModelCard { Task = Name, MaxLength = 384 };
        var predictions = new List<string?>();
        var gold = new List<IReadOnlyList<string>>();
        double loss = 0;
        for (int i = 0; i < valid.Count;)
        {
            var question = valid[i].Question ?? throw new InvalidOperationException("a question-answering example without its question");
            var windows = new List<IReadOnlyList<float[]>>();
            for (; i < valid.Count && ReferenceEquals(valid[i].Question!.Encoding, question.Encoding); i++)
            {
                var split = GraphOutputs(head[i], card);
                windows.Add(split);
                var t = valid[i].TokenLabels!;
                loss += (-LogSoftmaxAt(split[0], t[0]) - LogSoftmaxAt(split[1], t[1])) / 2;
            }
            var answers = QuestionAnsweringTask.Search(new QuestionAnsweringTask.QuestionLayout(question.Encoding), windows, card, 1);
            predictions.Add(answers.Count > 0 ? answers[0].Text : "");
            gold.Add(question.GoldAnswers);
        }
        return (SquadMetrics.Compute(predictions, gold).F1, loss / Math.Max(1, valid.Count));
    }

    private static double LogSoftmaxAt(float[] logits, int index)
    {
        double max = logits.Max();
        double sum = logits.Sum(v => Math.Exp(v - max));
        return logits[index] - max - Math.Log(sum);
    }

    /// <summary>The head's row is [tokens, 2] row-major: the start logits are the even entries, the end logits the odd ones.</summary>
    public override float[][] GraphOutputs(float[] head, ModelCard card)
    {
        var starts = new float[head.Length / 2];
        var ends = new float[head.Length / 2];
        for (int t = 0; t < starts.Length; t++)
            (starts[t], ends[t]) = (head[2 * t], head[2 * t + 1]);
        return [starts, ends];
    }

    public override void CheckHead(ModelCard card, int outputs)
    {
        if (outputs != 2)
            throw new BadInputException($"task '{Name}': classifier.weight has {outputs} rows, expected 2 (start and end logits)");
        if (card.Labels.Count != 0)
            throw new BadInputException($"task '{Name}' has no labels, but {card.Labels.Count} are given");
    }

    /// <summary><c>start_logits</c> and <c>end_logits</c> [batch, sequence]: the head's two outputs taken apart (Gather on the last axis).</summary>
    internal override void WriteOnnxHead(OnnxGraphBuilder graph, string logits, int outputs, ModelCard card, Func<string, string> constant)
    {
        graph.Node("Gather", [logits, graph.Int64s("qa_start_index", [0], scalar: true)], ModelFileFormat.StartLogits, Int("axis", 2));
        graph.Node("Gather", [logits, graph.Int64s("qa_end_index", [1], scalar: true)], ModelFileFormat.EndLogits, Int("axis", 2));
        graph.Output(ModelFileFormat.StartLogits, TensorProto.Types.DataType.Float, "batch", "sequence");
        graph.Output(ModelFileFormat.EndLogits, TensorProto.Types.DataType.Float, "batch", "sequence");
    }

    /// <summary>
    /// The generic check reads <c>start_logits</c> of the check rows' first inputs (float32: within the tolerance);
    /// the answer-span rule is <see cref="VerifyExport"/>'s.
    /// </summary>
    public override VariantCheck ParityRule(OnnxExportOptions options, double tolerance, ModelCard card)
    {
        var check = options.Quantize == OnnxQuantization.Int8 || options.Float16
            ? new VariantCheck(ModelFileFormat.StartLogits, double.PositiveInfinity, 0)
            : new VariantCheck(ModelFileFormat.StartLogits, tolerance, 0);
        return check with { ArgmaxGroup = 1 };
    }

    /// <summary>Best spans an int8 export must keep (share of check questions).</summary>
    public const double Int8MinSpanAgreement = 0.95;

    /// <summary>
    /// Runs every check question through both models the way inference does (all windows): float32 exports must keep
    /// both logit outputs within the tolerance at every real token and give every question the same best span;
    /// float16 at least 99% and int8 at least 95% of best spans the same. The report's argmax agreement is the share
    /// of identical best spans, its maximum difference over both outputs and all windows.
    /// </summary>
    public override ParityReport VerifyExport(BertTaskModel model, string onnxPath, IReadOnlyList<(string Text, string? Text2)> rows,
        OnnxExportOptions options, double tolerance, ParityReport report)
    {
        using var onnx = BertOnnxModel.Load(onnxPath);
        var card = model.Card;
        var aligner = new WordPieceAligner(model.Encoder);
        var layouts = rows.Select(r => new QuestionAnsweringTask.QuestionLayout(QuestionAnsweringTask.Encode(aligner, r.Text, r.Text2, card))).ToList();
        var inputs = layouts.SelectMany(l => l.Inputs).ToList();
        var reference = Predictor.Logits(model.Network, inputs).Select(l => GraphOutputs(l, card)).ToList();
        var actual = onnx.RunTokenOutputs(inputs);
        double maxDiff = 0;
        for (int i = 0; i < inputs.Count; i++)
            for (int o = 0; o < 2; o++)
                for (int t = 0; t < reference[i][o].Length; t++)
                    maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i][o][t] - reference[i][o][t]));
        int same = 0, next = 0;
        foreach (var layout in layouts)
        {
            int n = layout.Inputs.Count;
            var want = QuestionAnsweringTask.Search(layout, reference.Skip(next).Take(n).Select(r => (IReadOnlyList<float[]>)r).ToList(), card, 1);
            var got = QuestionAnsweringTask.Search(layout, actual.Skip(next).Take(n).ToList(), card, 1);
            next += n;
            if (want.Count == got.Count && (want.Count == 0 || (want[0].Start == got[0].Start && want[0].End == got[0].End)))
                same++;
        }
        double agreement = (double)same / Math.Max(1, layouts.Count);
        double minAgreement = options.Quantize == OnnxQuantization.Int8 ? Int8MinSpanAgreement : options.Float16 ? VariantCheck.Float16MinArgmaxAgreement : 1.0;
        double allowed = options.Quantize == OnnxQuantization.Int8 || options.Float16 ? double.PositiveInfinity : tolerance;
        var result = report with { MaxAbsDifference = Math.Max(report.MaxAbsDifference, maxDiff), ArgmaxAgreement = agreement, Rows = layouts.Count };
        if (!(maxDiff <= allowed) || agreement < minAgreement)
        {
            throw new ExportRefusedException(string.Create(CultureInfo.InvariantCulture,
                $"{onnxPath}: the exported model does not match the reference: {layouts.Count} questions: max |onnx - reference| of start/end logits = {maxDiff:E2}, best span agreement = {agreement:P2} (allowed: {(double.IsPositiveInfinity(allowed) ? "differences reported" : $"<= {allowed:E1}")}, best span agreement >= {minAgreement:P0})"));
        }
        return result;
    }

    /// <summary>Questions and contexts the export is checked on when none are given: short and long contexts, one past a single window.</summary>
    public override IReadOnlyList<(string Text, string? Text2)>? BuiltInCheckRows { get; } = CheckRows();

    private static List<(string Text, string? Text2)> CheckRows()
    {
        const string Lighthouse = "The lighthouse on the northern cape was built in 1874 by the engineer Thomas Hale. It stands 32 metres tall and its lamp can be seen from 40 kilometres away. The keeper's cottage, restored in 1998, now houses a small museum about shipwrecks along the coast.";
        string filler = string.Concat(Enumerable.Repeat("The harbour records list cargo ships, fishing boats and ferries that called at the port during the long winters of the last century. ", 12));
        return
        [
            ("When was the lighthouse built?", Lighthouse),
            ("Who built the lighthouse?", Lighthouse),
            ("How tall is the lighthouse?", Lighthouse),
            ("What does the keeper's cottage house now?", Lighthouse),
            ("From how far can the lamp be seen?", filler + Lighthouse),
            ("Which city hosted the 1992 Summer Olympics?", "The 1992 Summer Olympics were held in Barcelona, Spain, from 25 July to 9 August 1992."),
        ];
    }

    /// <summary><c>Answer</c> (predicted-label column name): the best answers' texts; <c>Score</c>: their probabilities, best first.</summary>
    public override void AddOutputColumns(DataViewSchema.Builder builder, string scoreColumn, string predictedLabelColumn, IReadOnlyList<string> labels)
    {
        builder.AddColumn(predictedLabelColumn, new VectorDataViewType(TextDataViewType.Instance));
        builder.AddColumn(scoreColumn, new VectorDataViewType(NumberDataViewType.Single));
    }

    public override Delegate OutputGetter(DataViewSchema.Column column, string scoreColumn, Func<Prediction> current)
    {
        if (column.Name == scoreColumn)
            return (ValueGetter<VBuffer<float>>)((ref VBuffer<float> v) => v = Vector((current().Answers ?? []).Select(a => a.Score).ToArray()));
        return (ValueGetter<VBuffer<ReadOnlyMemory<char>>>)((ref VBuffer<ReadOnlyMemory<char>> v) =>
            v = Vector((current().Answers ?? []).Select(a => a.Text.AsMemory()).ToArray()));
    }

    private static VBuffer<T> Vector<T>(T[] values) => new(values.Length, values);

    /// <summary>
    /// SQuAD v1.1 exact match and F1 (fractions 0–1) of each row's best answer against its gold answers
    /// (<see cref="TabularRow.Answers"/>, or the row's label as the one answer).
    /// </summary>
    public override (JsonObject Json, string Text) Evaluate(IReadOnlyList<Prediction> predictions, IReadOnlyList<TabularRow> rows, ModelCard card, string source)
    {
        var gold = new List<IReadOnlyList<string>>(rows.Count);
        var predicted = new List<string?>(rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            IReadOnlyList<string> answers = rows[i].Answers is { Count: > 0 } a ? a.Select(g => g.Text).ToArray()
                : rows[i].Label is { Length: > 0 } label ? [label]
                : throw new BadInputException($"{source}:{rows[i].Line}: no gold answer");
            gold.Add(answers);
            predicted.Add(predictions[i].Answers is { Count: > 0 } p ? p[0].Text : "");
        }
        var m = SquadMetrics.Compute(predicted, gold);
        return (m.ToJsonObject(), string.Create(CultureInfo.InvariantCulture,
            $"exact match {m.ExactMatch:F4}, f1 {m.F1:F4} ({m.Count} questions; SQuAD v1.1 normalisation, best over gold answers)"));
    }
}
