using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Checkpoints;
using MlNetBert.Inference;
using MlNetBert.Tasks;
using MlNetBert.Modeling;
using MlNetBert.Tokenization;
using MlNetBert.Training;
using static TorchSharp.torch;

namespace MlNetBert.MlNet;

/// <summary>
/// Fine-tunes a pretrained BERT checkpoint inside an ML.NET pipeline. Created by
/// <c>mlContext.MulticlassClassification.Trainers.BertTextClassification(...)</c> or
/// <c>mlContext.Regression.Trainers.BertSentenceSimilarity(...)</c>.
/// </summary>
public sealed class BertEstimator : IEstimator<BertTransformer>
{
    private readonly BertTrainingOptions _options;

    /// <summary>An estimator for <paramref name="task"/> (the catalog methods create the common ones).</summary>
    public BertEstimator(BertTrainingOptions options, TrainingTask task)
    {
        options.Validate();
        _options = options;
        Task = task;
    }

    /// <summary>The task trained: its label, head, loss and output columns.</summary>
    public TrainingTask Task { get; }

    public BertTrainingOptions Options => _options;

    /// <summary>Checks the input columns and their types, and describes the output columns, before any data flows.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        CheckText(inputSchema, _options.TextColumnName, "TextColumnName", words: Task.TokenLevel);
        if (_options.Text2ColumnName is { } text2)
            CheckText(inputSchema, text2, "Text2ColumnName", words: false);
        if (Task.ReadsLabel)
        {
            if (!MlNetSchema.TryFind(inputSchema, _options.LabelColumnName, out var label))
                throw new BadInputException($"label column '{_options.LabelColumnName}' not found in the input (columns: {string.Join(", ", inputSchema.Select(c => c.Name))})");
            Task.CheckLabelColumn(label);
        }
        if (Task.ReadsAnswerSpan)
            CheckAnswerIndex(inputSchema, where: null);
        if (Task.EncodesPairSeparately && _options.Text2ColumnName is null)
            throw new BadInputException($"task '{Task.Name}' trains on pairs of texts: set Text2ColumnName");
        var builder = new DataViewSchema.Builder();
        Task.AddOutputColumns(builder, _options.ScoreColumnName, _options.PredictedLabelColumnName, ["0", "1"]);
        return MlNetSchema.Append(inputSchema, builder.ToSchema());
    }

    /// <summary>Reads the training (and validation) data, fine-tunes, and returns the fitted transformer.</summary>
    public BertTransformer Fit(IDataView input)
    {
        GetOutputSchema(MlNetSchema.ShapeOf(input.Schema));
        var checkpoint = new CheckpointStore().Resolve(_options.Checkpoint);
        var encoder = checkpoint.CreateEncoder();
        string[] keyNames = KeyNames(input);

        var train = ReadRows(input, "training data");
        if (train.Count == 0)
            throw new BadInputException("the training data has no rows");
        var card = Task.FitLabels(Task.Configure(new ModelCard
        {
            Task = Task.Name,
            Pooling = _options.Pooling.ToName(),
            MaxLength = _options.MaxSequenceLength,
            Checkpoint = checkpoint.Name,
            CheckpointSha256 = checkpoint.Sha256,
            LowerCase = checkpoint.LowerCase,
            TextColumn = _options.TextColumnName,
            Text2Column = _options.Text2ColumnName,
        }, _options), keyNames, train.Select(r => r.Label).ToList(), _options.LabelColumnName);
        card = Task.CompleteCard(card, checkpoint.Config);

        List<TrainingExample> Examples(List<DataRow> rows, string[] names, string what) => rows.SelectMany(r =>
            Task.Examples(r.Text, r.Text2, r.Label, names, card, encoder, $"{what}, row {r.Index + 1}", _options.LabelColumnName)).ToList();
        var trainExamples = Examples(train, keyNames, "training data");
        if (_options.Distils)
            trainExamples = WithTeacher(train, trainExamples, card, encoder);
        List<TrainingExample>? validExamples = null;
        if (_options.ValidationSet is { } validSet)
        {
            if (Task.ReadsAnswerSpan)
                CheckValidationAnswers(validSet.Schema);
            GetOutputSchema(MlNetSchema.ShapeOf(validSet.Schema));
            validExamples = Examples(ReadRows(validSet, "validation data"), KeyNames(validSet), "validation data");
        }

        manual_seed(_options.Seed);
        var network = new BertClassifier(checkpoint.Config, Task.HeadOutputs(card), _options.Pooling, Task.TokenLevel);
        network.Bert.LoadWeights(checkpoint.LoadTensors(), checkpoint.WeightsPath);
        if (_options.ReinitializeTopLayers > 0)
        {
            int layers = checkpoint.Config.NumHiddenLayers, k = _options.ReinitializeTopLayers;
            if (k > layers)
                throw new BadInputException($"option ReinitializeTopLayers = {k} is invalid: {checkpoint.Name} has {layers} encoder layers");
            if (_options.Freeze.IsFrozen($"encoder.layer.{layers - k}.output.dense.weight"))
                throw new BadInputException($"option ReinitializeTopLayers = {k} conflicts with Freeze = {_options.Freeze}: a re-initialised layer would stay random");
            network.Bert.ReinitializeTopLayers(k);
        }
        var tuner = new BertFineTuner(_options, Task) { Card = card };
        var history = tuner.Train(network, trainExamples, validExamples);

        var metrics = new Dictionary<string, double> { ["train_loss"] = history.Epochs[^1].TrainLoss };
        var bestRecord = history.Epochs.FirstOrDefault(e => e.Epoch == history.BestEpoch);
        if (bestRecord?.ValidationMetric is double m)
            metrics["valid_" + history.ValidationMetricName] = m;
        var model = new BertTaskModel(network, card with { Metrics = metrics }, checkpoint.Config, File.ReadAllText(checkpoint.VocabPath)) { History = history };
        return new BertTransformer(model, _options);
    }

    /// <summary>
    /// Distillation: every training row (a distillable task makes one example per row) gets the teachers' output, and
    /// the unlabelled texts join as rows with the teachers' output only.
    /// </summary>
    private List<TrainingExample> WithTeacher(List<DataRow> train, List<TrainingExample> examples, ModelCard card, BertTextEncoder encoder)
    {
        if (!Task.CanDistil)
            throw new BadInputException(TeacherOutputs.CannotDistil(Task));
        var unlabelled = _options.UnlabeledSet is { } extra ? ReadRows(extra, "unlabeled data", withLabel: false) : [];
        var texts = train.Concat(unlabelled).Select(r => (r.Text, r.Text2)).ToList();
        var targets = TeacherOutputs.For(_options.Teachers, Task, card, texts, _options.TeacherCacheFile, _options.Log, _options.TeacherOutputsFrom);
        var result = examples.Select((e, i) => e with { Teacher = targets[i] }).ToList();
        for (int i = 0; i < unlabelled.Count; i++)
        {
            var r = unlabelled[i];
            result.Add(new TrainingExample(encoder.Encode(r.Text, r.Text2, card.MaxLength), -100, float.NaN) { Teacher = targets[train.Count + i], Unlabelled = true });
        }
        return result;
    }

    private string[] KeyNames(IDataView data) => Task.ReadsLabel && Task.KeyLabel ? MlNetSchema.KeyNames(data.Schema[_options.LabelColumnName]) : [];

    private sealed record DataRow(long Index, string Text, string? Text2, LabelValue Label);

    private List<DataRow> ReadRows(IDataView data, string what, bool withLabel = true)
    {
        bool readsLabel = withLabel && Task.ReadsLabel;
        var schema = data.Schema;
        var columns = new List<DataViewSchema.Column> { schema[_options.TextColumnName] };
        if (readsLabel)
            columns.Add(schema[_options.LabelColumnName]);
        if (_options.Text2ColumnName is { } t2)
            columns.Add(schema[t2]);
        if (readsLabel && Task.ReadsAnswerSpan)
            columns.Add(schema[_options.AnswerIndexColumnName]);
        var rows = new List<DataRow>();
        using var cursor = data.GetRowCursor(columns);
        var text = MlNetText.Getter(cursor, schema[_options.TextColumnName]);
        var text2 = _options.Text2ColumnName is { } name2 ? MlNetText.Getter(cursor, schema[name2]) : null;
        // Token-level tasks read one key per word (a key vector); the others one key or one score, unless they read no label.
        ValueGetter<VBuffer<uint>>? keys = readsLabel && Task.TokenLevel && !Task.ReadsAnswerSpan ? cursor.GetGetter<VBuffer<uint>>(schema[_options.LabelColumnName]) : null;
        ValueGetter<uint>? key = readsLabel && Task.KeyLabel && !Task.TokenLevel ? cursor.GetGetter<uint>(schema[_options.LabelColumnName]) : null;
        ValueGetter<float>? score = readsLabel && !Task.KeyLabel && !Task.ReadsAnswerSpan ? cursor.GetGetter<float>(schema[_options.LabelColumnName]) : null;
        // Question answering reads the answer's text and its offset into the context.
        var answers = readsLabel && Task.ReadsAnswerSpan ? AnswerReader(cursor, schema, what) : null;
        VBuffer<uint> ks = default;
        uint k = 0;
        float s = 0;
        while (cursor.MoveNext())
        {
            _options.CancellationToken.ThrowIfCancellationRequested();
            string a = text(), b = text2?.Invoke() ?? "";
            key?.Invoke(ref k);
            keys?.Invoke(ref ks);
            score?.Invoke(ref s);
            if (score is not null && !float.IsFinite(s))
                throw new BadInputException($"{what}, row {cursor.Position + 1}: column '{_options.LabelColumnName}' value {s} is not a finite number");
            rows.Add(new DataRow(cursor.Position, a, text2 is null ? null : b,
                new LabelValue(k, s)
                {
                    Keys = keys is null ? null : ks.DenseValues().ToArray(),
                    Answers = answers?.Invoke(cursor.Position),
                }));
        }
        return rows;
    }

    /// <summary>
    /// A validation set's answer columns (the training data's are checked by <see cref="GetOutputSchema"/>), so a
    /// wrong type is named before any row is read.
    /// </summary>
    private void CheckValidationAnswers(DataViewSchema schema)
    {
        const string What = "validation data";
        var shape = MlNetSchema.ShapeOf(schema);
        if (!MlNetSchema.TryFind(shape, _options.LabelColumnName, out var label))
            throw new BadInputException($"{What}: answer column '{_options.LabelColumnName}' not found in the input (columns: {string.Join(", ", shape.Select(c => c.Name))})");
        Task.CheckLabelColumn(label);
        CheckAnswerIndex(shape, What);
    }

    /// <summary>
    /// The answer index column beside the answer column: a scalar Int32 beside a scalar answer, a vector of Int32
    /// beside a vector of answers (every gold answer of a question, the first trained on; validation scores against
    /// every one, as SQuAD does).
    /// </summary>
    private void CheckAnswerIndex(SchemaShape inputSchema, string? where)
    {
        string name = _options.AnswerIndexColumnName;
        string prefix = where is null ? "" : where + ": ";
        if (!MlNetSchema.TryFind(inputSchema, name, out var index))
            throw new BadInputException($"{prefix}answer index column '{name}' (AnswerIndexColumnName) not found in the input (columns: {string.Join(", ", inputSchema.Select(c => c.Name))})");
        bool vector = MlNetSchema.TryFind(inputSchema, _options.LabelColumnName, out var answer) && answer.Kind != SchemaShape.Column.VectorKind.Scalar;
        if (index.ItemType != NumberDataViewType.Int32 || (index.Kind == SchemaShape.Column.VectorKind.Scalar) == vector)
        {
            string expected = vector ? $"a vector of Int32 (each answer's character offset into the context, one per answer in '{_options.LabelColumnName}')"
                : "a scalar Int32 (the answer's character offset into the context)";
            throw new BadInputException($"{prefix}answer index column '{name}' must be {expected}, found {MlNetSchema.Describe(index)}");
        }
    }

    /// <summary>
    /// Reads a question's gold answers: one from scalar answer and index columns, or all of them from vector columns of
    /// equal length (a length mismatch names the row).
    /// </summary>
    private Func<long, IReadOnlyList<Data.QuestionAnswering.GoldAnswer>> AnswerReader(DataViewRowCursor cursor, DataViewSchema schema, string what)
    {
        var textColumn = schema[_options.LabelColumnName];
        var indexColumn = schema[_options.AnswerIndexColumnName];
        if (textColumn.Type is not VectorDataViewType)
        {
            var text = cursor.GetGetter<ReadOnlyMemory<char>>(textColumn);
            var index = cursor.GetGetter<int>(indexColumn);
            ReadOnlyMemory<char> t = default;
            int i = 0;
            return _ =>
            {
                text(ref t);
                index(ref i);
                return [new Data.QuestionAnswering.GoldAnswer(t.ToString(), i)];
            };
        }
        var texts = cursor.GetGetter<VBuffer<ReadOnlyMemory<char>>>(textColumn);
        var indices = cursor.GetGetter<VBuffer<int>>(indexColumn);
        VBuffer<ReadOnlyMemory<char>> ts = default;
        VBuffer<int> xs = default;
        return position =>
        {
            texts(ref ts);
            indices(ref xs);
            var a = ts.DenseValues().ToArray();
            var x = xs.DenseValues().ToArray();
            if (a.Length != x.Length)
                throw new BadInputException($"{what}, row {position + 1}: column '{textColumn.Name}' has {a.Length} answers but '{indexColumn.Name}' has {x.Length} offsets");
            return a.Select((answer, k) => new Data.QuestionAnswering.GoldAnswer(answer.ToString(), x[k])).ToArray();
        };
    }

    private static void CheckText(SchemaShape schema, string name, string option, bool words)
    {
        if (!MlNetSchema.TryFind(schema, name, out var column))
            throw new BadInputException($"text column '{name}' ({option}) not found in the input (columns: {string.Join(", ", schema.Select(c => c.Name))})");
        if (words && MlNetText.IsWords(column))
            return;
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.ItemType is not TextDataViewType)
            throw new BadInputException($"text column '{name}' must be a scalar string (Text), found {MlNetSchema.Describe(column)}");
    }
}
