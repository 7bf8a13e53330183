using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Checkpoints;
using MlNetBert.Data;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.Tokenization;
using MlNetBert.Training;
using static TorchSharp.torch;

namespace MlNetBert.Tasks;

/// <summary>
/// The training side of one task: which label it reads (from an <c>IDataView</c> or a file), how a row becomes a
/// <see cref="TrainingExample"/>, the head's size and loss, the validation metric, the ONNX head and its parity rule,
/// the ML.NET output columns, and the evaluation metrics. One subclass per task, in its own folder under
/// <c>Tasks/</c>, registered once in <see cref="TrainingTasks"/>; the training loop, the estimator and transformer,
/// the exporter, runs and the console ask the task instead of switching on it.
/// </summary>
/// <remarks>The inference side (card rules, decoding, JSON) is <see cref="Inference"/>, in MlNetBert.Inference's <c>Tasks/</c>.</remarks>
public abstract class TrainingTask
{
    /// <summary>The same task on the inference side.</summary>
    public abstract InferenceTask Inference { get; }

    /// <summary>The task's name (<c>mlnetbert.task</c>).</summary>
    public string Name => Inference.Name;

    /// <summary>
    /// True when the ML.NET label column is a key (classes, from <c>MapValueToKey</c>); false when it is a Single
    /// (a score). The estimator reads <see cref="LabelValue"/>s with the matching getter.
    /// </summary>
    public abstract bool KeyLabel { get; }

    /// <summary>
    /// Whether the head reads every token (<see cref="InferenceTask.TokenLevel"/>): the network's output is
    /// [batch, length, outputs], the label is a key vector (one key per word, <see cref="LabelValue.Keys"/>) and
    /// <see cref="Examples"/> lays rows out itself.
    /// </summary>
    public bool TokenLevel => Inference.TokenLevel;

    /// <summary>How a labelled file's label column is parsed (<see cref="TabularReader"/>).</summary>
    public abstract LabelKind FileLabels { get; }

    /// <summary>
    /// Whether training reads a label column at all; false for objectives that learn from the texts alone (a
    /// bi-encoder's (anchor, positive) pairs), whose estimator then needs no label column. Default true.
    /// </summary>
    public virtual bool ReadsLabel => true;

    /// <summary>
    /// Whether the label is an answer span: the label column is the answer's text and
    /// <see cref="BertTrainingOptions.AnswerIndexColumnName"/> its character offset into the second text
    /// (<see cref="LabelValue.Answers"/>). Default false.
    /// </summary>
    public virtual bool ReadsAnswerSpan => false;

    /// <summary>
    /// The task's own training shape where the caller sets none: tokens per input, examples per batch and batches per
    /// optimizer step. Default 128 tokens, batches of 32, no accumulation; question answering reads 384-token windows
    /// in batches of 8 with 2 per step. The console and the ML.NET catalog both start from these.
    /// </summary>
    public virtual TrainingShape DefaultShape => TrainingShape.Default;

    /// <summary>Throws <see cref="BadInputException"/> when the ML.NET label column has the wrong type, saying how to fix it.</summary>
    public abstract void CheckLabelColumn(SchemaShape.Column label);

    /// <summary>
    /// Completes the card from the training labels: label names (classification), or the score range that targets
    /// are scaled by (similarity). Throws <see cref="BadInputException"/> on labels that cannot be trained on.
    /// </summary>
    /// <param name="card">The card so far (task, pooling, tokenizer, columns).</param>
    /// <param name="keyNames">The label key's names in key order (empty when <see cref="KeyLabel"/> is false).</param>
    /// <param name="train">The training labels.</param>
    /// <param name="labelColumn">The label column's name, for messages.</param>
    public abstract ModelCard FitLabels(ModelCard card, IReadOnlyList<string> keyNames, IReadOnlyList<LabelValue> train, string labelColumn);

    /// <summary>
    /// Completes the card from the checkpoint's architecture, after <see cref="FitLabels"/> (a sentence-embedding
    /// model records its vector's length). By default the card is unchanged.
    /// </summary>
    public virtual ModelCard CompleteCard(ModelCard card, BertConfig config) => card;

    /// <summary>
    /// Completes the card from the training options, before <see cref="FitLabels"/> (question answering records its
    /// windows' stride, the longest answer and how many answers it returns). By default the card is unchanged.
    /// </summary>
    public virtual ModelCard Configure(ModelCard card, BertTrainingOptions options) => card;

    /// <summary>The training target of one row, given the fitted card; throws naming <paramref name="where"/> when the label is unusable.</summary>
    public abstract TrainingTarget Target(LabelValue label, IReadOnlyList<string> keyNames, ModelCard card, string where, string labelColumn);

    /// <summary>
    /// The training examples of one labelled row, given the fitted card: by default one input (the encoder's, truncated
    /// to the card's maximum length) with <see cref="Target"/>'s label, or for a bi-encoder (<see cref="EncodesPairSeparately"/>)
    /// each text encoded on its own; a token-level task may make several (windows over a long sentence) with
    /// <see cref="TrainingExample.TokenLabels"/>. Throws naming <paramref name="where"/>.
    /// </summary>
    public virtual IReadOnlyList<TrainingExample> Examples(string text, string? text2, LabelValue label, IReadOnlyList<string> keyNames, ModelCard card,
        BertTextEncoder encoder, string where, string labelColumn)
    {
        var target = Target(label, keyNames, card, where, labelColumn);
        if (EncodesPairSeparately)
            return [new TrainingExample(encoder.Encode(text, null, card.MaxLength), target.Label, target.Value) { Input2 = encoder.Encode(text2 ?? "", null, card.MaxLength) }];
        return [new TrainingExample(encoder.Encode(text, text2, card.MaxLength), target.Label, target.Value)];
    }

    /// <summary>Rows of the head's output layer (classes, or 1 for a score); 0 when <see cref="HasHead"/> is false.</summary>
    public abstract int HeadOutputs(ModelCard card);

    /// <summary>
    /// False for a task whose output is the pooled vector itself (sentence embedding): no classifier layer is built,
    /// trained, saved or exported, and <see cref="WriteOnnxHead"/> reads the pooled vector. Default true.
    /// </summary>
    public virtual bool HasHead => true;

    /// <summary>
    /// True when each text of a pair is encoded on its own (<see cref="TrainingExample.Input2"/>) and goes through the
    /// encoder separately (a bi-encoder), instead of together as <c>[CLS] a [SEP] b [SEP]</c>. Default false.
    /// </summary>
    public virtual bool EncodesPairSeparately => false;

    /// <summary>
    /// How <c>evaluate</c> reads a file's label column, given the column the user named (null: none named). Default
    /// <see cref="FileLabels"/>; a sentence-embedding model reads scores only when a label column is named, and
    /// otherwise scores the pairs as retrieval (anchor, positive).
    /// </summary>
    public virtual LabelKind EvaluationLabels(string? labelColumn) => FileLabels;

    /// <summary>
    /// True when training rows carry a second text: pair tasks, and bi-encoders (which embed one text at inference
    /// but learn from pairs).
    /// </summary>
    public bool TrainsOnPairs => Inference.ReadsPair || EncodesPairSeparately;

    /// <summary>
    /// For a task trained in more than one way, which way this instance trains (a sentence-embedding loss, or token
    /// labels on every sub-token), as the console names it and run.json records it; null for a task trained one way.
    /// Every variant is the same inference task: a trained model does not depend on it.
    /// </summary>
    public virtual string? Variant => null;

    /// <summary>
    /// The inputs one batch runs through the network, one forward pass each: by default the rows' <see
    /// cref="TrainingExample.Input"/>; a bi-encoder adds the second texts. <see cref="Loss(IReadOnlyList{Tensor}, IReadOnlyList{TrainingExample})"/>
    /// and <see cref="Validate(IReadOnlyList{IReadOnlyList{float[]}}, IReadOnlyList{TrainingExample}, ModelCard?)"/> receive the
    /// outputs in the same order.
    /// </summary>
    public virtual IReadOnlyList<IReadOnlyList<EncodedText>> ForwardInputs(IReadOnlyList<TrainingExample> rows) =>
        [rows.Select(r => r.Input).ToList()];

    /// <summary>The loss of one batch: <paramref name="head"/> is [batch, outputs] ([batch, length, outputs] for a token-level task).</summary>
    public abstract Tensor Loss(Tensor head, IReadOnlyList<TrainingExample> rows);

    /// <summary>The loss of one batch from the outputs of every <see cref="ForwardInputs"/> entry; by default the first's <see cref="Loss(Tensor, IReadOnlyList{TrainingExample})"/>.</summary>
    public virtual Tensor Loss(IReadOnlyList<Tensor> outputs, IReadOnlyList<TrainingExample> rows) => Loss(outputs[0], rows);

    /// <summary>
    /// Whether a student of this task can learn from teachers (<see cref="BertTrainingOptions.Teachers"/>): the task
    /// then turns a teacher's prediction into a row's <see cref="TrainingExample.Teacher"/> (<see cref="TeacherTarget"/>)
    /// and mixes it into the loss (<see cref="DistillationLoss"/>). Default false: teachers are refused.
    /// </summary>
    public virtual bool CanDistil => false;

    /// <summary>
    /// A teacher's prediction of one row in the student's terms (see <see cref="TrainingExample.Teacher"/>). Throws
    /// <see cref="BadInputException"/> naming <paramref name="teacher"/> when its card does not fit the student's
    /// (other labels).
    /// </summary>
    /// <param name="prediction">The teacher's prediction (one model, or the average of several).</param>
    /// <param name="teacherCard">The teacher's card.</param>
    /// <param name="card">The student's fitted card.</param>
    /// <param name="teacher">The teacher's file(s), for messages.</param>
    public virtual float[] TeacherTarget(Prediction prediction, ModelCard teacherCard, ModelCard card, string teacher) =>
        throw new BadInputException($"task '{Name}' cannot be distilled: a teacher's outputs cannot be learnt from (distillation supports text-classification, pair-classification and sentence-similarity)");

    /// <summary>
    /// The loss of one batch mixing the labels and the teacher (<see cref="TrainingExample.Teacher"/>, set on every
    /// row): α × the task's own loss on the rows with labels + (1 − α) × the teacher term on every row.
    /// </summary>
    public virtual Tensor DistillationLoss(Tensor head, IReadOnlyList<TrainingExample> rows, double alpha, double temperature) =>
        throw new BadInputException($"task '{Name}' cannot be distilled");

    /// <summary>The validation metric's name (higher is better), for example <c>accuracy</c> or <c>spearman</c>.</summary>
    public abstract string ValidationMetricName { get; }

    /// <summary>
    /// The validation metric and mean loss of the validation rows, from the outputs of every <see cref="ForwardInputs"/>
    /// entry (per input, then per row: <c>outputs[0][row]</c> is the head's output for the row's first input) and the
    /// fitted card, which tasks whose metric reads label names need (null when not known).
    /// </summary>
    public abstract (double Metric, double Loss) Validate(IReadOnlyList<IReadOnlyList<float[]>> outputs, IReadOnlyList<TrainingExample> valid, ModelCard? card);

    /// <summary>
    /// What the exported graph outputs for one row, computed from the TorchSharp head's output row: one array per
    /// <see cref="InferenceTask.OutputNames"/> entry. TorchSharp predictions and ONNX parity both read these.
    /// </summary>
    public abstract float[][] GraphOutputs(float[] head, ModelCard card);

    /// <summary>Throws <see cref="BadInputException"/> when a head of <paramref name="outputs"/> rows does not fit the card.</summary>
    public abstract void CheckHead(ModelCard card, int outputs);

    /// <summary>Writes the nodes after the classifier layer (<paramref name="logits"/>) and declares the task's graph outputs.</summary>
    internal abstract void WriteOnnxHead(OnnxGraphBuilder graph, string logits, int outputs, ModelCard card, Func<string, string> constant);

    /// <summary>
    /// Check rows for <see cref="TrainedModelExport.Export"/> when none are given; null for the library's built-in
    /// sentences (<see cref="TrainedModelExport.BuiltInCheckRows"/>).
    /// </summary>
    public virtual IReadOnlyList<(string Text, string? Text2)>? BuiltInCheckRows => null;

    /// <summary>
    /// A task's own check of a freshly written export, after <see cref="ParityRule"/> has passed (question answering
    /// compares both logit outputs over every window and the best answer span of each check row). Throws
    /// <see cref="InvalidOperationException"/> when the file must not be kept; returns the report to record.
    /// By default the report is returned unchanged.
    /// </summary>
    public virtual ParityReport VerifyExport(BertTaskModel model, string onnxPath, IReadOnlyList<(string Text, string? Text2)> rows,
        OnnxExportOptions options, double tolerance, ParityReport report) => report;

    /// <summary>What an export variant must reproduce (which output, how closely, how many labels kept).</summary>
    public abstract VariantCheck ParityRule(OnnxExportOptions options, double tolerance, ModelCard card);

    /// <summary>The columns the trained transformer adds: <c>Score</c> (and <c>PredictedLabel</c> for classes).</summary>
    public abstract void AddOutputColumns(DataViewSchema.Builder builder, string scoreColumn, string predictedLabelColumn, IReadOnlyList<string> labels);

    /// <summary>
    /// The columns the trained transformer adds, given the model's whole card (a vector column needs its length);
    /// by default <see cref="AddOutputColumns(DataViewSchema.Builder, string, string, IReadOnlyList{string})"/> with the card's labels.
    /// </summary>
    public virtual void AddOutputColumns(DataViewSchema.Builder builder, string scoreColumn, string predictedLabelColumn, ModelCard card) =>
        AddOutputColumns(builder, scoreColumn, predictedLabelColumn, card.Labels);

    /// <summary>A getter for one output column that reads the current row's prediction.</summary>
    public abstract Delegate OutputGetter(DataViewSchema.Column column, string scoreColumn, Func<Prediction> current);

    /// <summary>
    /// Metrics of predictions against a labelled file's rows: the JSON written to metrics.json / <c>evaluate --json</c>
    /// and the text the console prints.
    /// </summary>
    public abstract (JsonObject Json, string Text) Evaluate(IReadOnlyList<Prediction> predictions, IReadOnlyList<TabularRow> rows, ModelCard card, string source);

    /// <summary>
    /// Predicts a labelled file's rows with <paramref name="model"/> and scores them (<c>evaluate</c>). By default one
    /// prediction per row (of both texts for pair tasks), then <see cref="Evaluate(IReadOnlyList{Prediction}, IReadOnlyList{TabularRow}, ModelCard, string)"/>;
    /// a bi-encoder embeds each text on its own instead.
    /// </summary>
    public virtual (JsonObject Json, string Text) Evaluate(IBertPredictor model, IReadOnlyList<TabularRow> rows, string source)
    {
        var texts = rows.Select(r => r.Text).ToList();
        var texts2 = Inference.ReadsPair ? rows.Select(r => r.Text2 ?? "").ToList() : null;
        return Evaluate(model.PredictBatch(texts, texts2), rows, model.Card, source);
    }

    public override string ToString() => Name;
}

/// <summary>One label as read from ML.NET or a file: a key (1-based, 0 = missing) or a score, or for a token-level task one key per word.</summary>
public readonly record struct LabelValue(uint Key, float Score)
{
    /// <summary>Token-level tasks: one key per word (1-based, 0 = missing).</summary>
    public uint[]? Keys { get; init; }

    /// <summary>Question answering: the gold answers (text and offset into the context); the first is trained on.</summary>
    public IReadOnlyList<Data.QuestionAnswering.GoldAnswer>? Answers { get; init; }
}

/// <summary>What one row is trained toward: a class index or a (scaled) target value.</summary>
public readonly record struct TrainingTarget(int Label, float Value);

/// <summary>A task's default training shape (<see cref="TrainingTask.DefaultShape"/>).</summary>
/// <param name="MaxSequenceLength">Tokens per input (pairs and windows included).</param>
/// <param name="BatchSize">Examples per batch.</param>
/// <param name="GradientAccumulationSteps">Batches whose gradients add up before each optimizer step.</param>
public sealed record TrainingShape(int MaxSequenceLength, int BatchSize, int GradientAccumulationSteps)
{
    /// <summary>128 tokens, batches of 32, one batch per step: what <see cref="BertTrainingOptions"/> defaults to.</summary>
    public static TrainingShape Default { get; } = new(128, 32, 1);

    /// <summary>These values on <paramref name="options"/>.</summary>
    public BertTrainingOptions ApplyTo(BertTrainingOptions options) =>
        options with { MaxSequenceLength = MaxSequenceLength, BatchSize = BatchSize, GradientAccumulationSteps = GradientAccumulationSteps };
}
