using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Checkpoints;
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

    internal BertEstimator(BertTrainingOptions options, bool similarity)
    {
        options.Validate();
        _options = options;
        Task = similarity ? BertTask.SentenceSimilarity
            : options.Text2ColumnName is null ? BertTask.TextClassification : BertTask.PairClassification;
    }

    public BertTask Task { get; }

    public BertTrainingOptions Options => _options;

    /// <summary>Checks the input columns and their types, and describes the output columns, before any data flows.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        CheckText(inputSchema, _options.TextColumnName, "TextColumnName");
        if (_options.Text2ColumnName is { } text2)
            CheckText(inputSchema, text2, "Text2ColumnName");
        if (!MlNetSchema.TryFind(inputSchema, _options.LabelColumnName, out var label))
            throw new BadInputException($"label column '{_options.LabelColumnName}' not found in the input (columns: {string.Join(", ", inputSchema.Select(c => c.Name))})");
        if (Task == BertTask.SentenceSimilarity)
        {
            if (label.Kind != SchemaShape.Column.VectorKind.Scalar || label.ItemType != NumberDataViewType.Single)
                throw new BadInputException($"label column '{label.Name}' must be Single (a similarity score), found {Describe(label)}");
        }
        else if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
        {
            throw new BadInputException($"label column '{label.Name}' must be a key type, found {Describe(label)}: add mlContext.Transforms.Conversion.MapValueToKey(\"{label.Name}\") before the trainer");
        }
        var builder = new DataViewSchema.Builder();
        BertTransformer.AddOutputColumns(builder, Task, _options, labelCount: 2, labelNames: null);
        return MlNetSchema.Append(inputSchema, builder.ToSchema());
    }

    /// <summary>Reads the training (and validation) data, fine-tunes, and returns the fitted transformer.</summary>
    public BertTransformer Fit(IDataView input)
    {
        GetOutputSchema(MlNetSchema.ShapeOf(input.Schema));
        var checkpoint = new CheckpointStore().Resolve(_options.Checkpoint);
        var encoder = checkpoint.CreateEncoder();
        string[] labelNames = Task == BertTask.SentenceSimilarity ? [] : MlNetSchema.KeyNames(input.Schema[_options.LabelColumnName]);

        var train = ReadRows(input, "training data");
        if (train.Count == 0)
            throw new BadInputException("the training data has no rows");
        List<DataRow>? validRows = null;
        if (_options.ValidationSet is { } validSet)
        {
            var shape = MlNetSchema.ShapeOf(validSet.Schema);
            GetOutputSchema(shape);
            validRows = ReadRows(validSet, "validation data");
            if (Task != BertTask.SentenceSimilarity)
            {
                var validNames = MlNetSchema.KeyNames(validSet.Schema[_options.LabelColumnName]);
                foreach (var row in validRows)
                {
                    string name = row.Label >= 1 && row.Label <= validNames.Length ? validNames[row.Label - 1] : row.Label.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    if (Array.IndexOf(labelNames, name) < 0)
                        throw new BadInputException($"validation data, row {row.Index + 1}: label '{name}' in column '{_options.LabelColumnName}' does not occur in the training data (known: {string.Join(", ", labelNames)})");
                }
            }
        }

        float offset = 0, scale = 1;
        if (Task == BertTask.SentenceSimilarity)
        {
            offset = train.Min(r => r.Score);
            scale = Math.Max(1e-6f, train.Max(r => r.Score) - offset);
        }
        else
        {
            var bad = train.FirstOrDefault(r => r.Label == 0);
            if (bad is not null)
                throw new BadInputException($"training data, row {bad.Index + 1}: column '{_options.LabelColumnName}' has a missing label");
            if (labelNames.Length < 2 || train.Select(r => r.Label).Distinct().Count() < 2)
                throw new BadInputException($"training data: fewer than two distinct labels in column '{_options.LabelColumnName}' (found: {string.Join(", ", train.Select(r => r.Label).Distinct().Select(l => labelNames.ElementAtOrDefault((int)l - 1)))})");
        }

        TrainingExample ToExample(DataRow r, string[]? names) => new(
            encoder.Encode(r.Text, r.Text2, _options.MaxSequenceLength),
            names is null ? (int)r.Label - 1 : Array.IndexOf(labelNames, names[r.Label - 1]),
            (r.Score - offset) / scale);
        var trainExamples = train.Select(r => ToExample(r, null)).ToList();
        var validNamesForMap = _options.ValidationSet is { } vs && Task != BertTask.SentenceSimilarity ? MlNetSchema.KeyNames(vs.Schema[_options.LabelColumnName]) : null;
        var validExamples = validRows?.Select(r => ToExample(r, validNamesForMap)).ToList();

        manual_seed(_options.Seed);
        var network = new BertClassifier(checkpoint.Config, Task == BertTask.SentenceSimilarity ? 1 : labelNames.Length, _options.Pooling);
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
        var tuner = new BertFineTuner(_options, Task);
        var history = tuner.Train(network, trainExamples, validExamples);

        var metrics = new Dictionary<string, double> { ["train_loss"] = history.Epochs[^1].TrainLoss };
        var bestRecord = history.Epochs.FirstOrDefault(e => e.Epoch == history.BestEpoch);
        if (bestRecord?.ValidationMetric is double m)
            metrics["valid_" + history.ValidationMetricName] = m;
        var info = new BertTaskInfo
        {
            Task = Task,
            Labels = labelNames,
            Pooling = _options.Pooling,
            ScoreScale = scale,
            ScoreOffset = offset,
            MaxLength = _options.MaxSequenceLength,
            Checkpoint = checkpoint.Name,
            CheckpointSha256 = checkpoint.Sha256,
            LowerCase = checkpoint.LowerCase,
            TextColumn = _options.TextColumnName,
            Text2Column = _options.Text2ColumnName,
            Metrics = metrics,
        };
        var model = new BertTaskModel(network, info, checkpoint.Config, File.ReadAllText(checkpoint.VocabPath)) { History = history };
        return new BertTransformer(model, _options);
    }

    private sealed record DataRow(long Index, string Text, string? Text2, uint Label, float Score);

    private List<DataRow> ReadRows(IDataView data, string what)
    {
        var schema = data.Schema;
        var columns = new List<DataViewSchema.Column> { schema[_options.TextColumnName], schema[_options.LabelColumnName] };
        if (_options.Text2ColumnName is { } t2)
            columns.Add(schema[t2]);
        var rows = new List<DataRow>();
        using var cursor = data.GetRowCursor(columns);
        var text = cursor.GetGetter<ReadOnlyMemory<char>>(schema[_options.TextColumnName]);
        var text2 = _options.Text2ColumnName is { } name2 ? cursor.GetGetter<ReadOnlyMemory<char>>(schema[name2]) : null;
        ValueGetter<uint>? key = Task == BertTask.SentenceSimilarity ? null : cursor.GetGetter<uint>(schema[_options.LabelColumnName]);
        ValueGetter<float>? score = Task == BertTask.SentenceSimilarity ? cursor.GetGetter<float>(schema[_options.LabelColumnName]) : null;
        ReadOnlyMemory<char> a = default, b = default;
        uint k = 0;
        float s = 0;
        while (cursor.MoveNext())
        {
            _options.CancellationToken.ThrowIfCancellationRequested();
            text(ref a);
            text2?.Invoke(ref b);
            key?.Invoke(ref k);
            score?.Invoke(ref s);
            if (score is not null && !float.IsFinite(s))
                throw new BadInputException($"{what}, row {cursor.Position + 1}: column '{_options.LabelColumnName}' value {s} is not a finite number");
            rows.Add(new DataRow(cursor.Position, a.ToString(), text2 is null ? null : b.ToString(), k, s));
        }
        return rows;
    }

    private static void CheckText(SchemaShape schema, string name, string option)
    {
        if (!MlNetSchema.TryFind(schema, name, out var column))
            throw new BadInputException($"text column '{name}' ({option}) not found in the input (columns: {string.Join(", ", schema.Select(c => c.Name))})");
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.ItemType is not TextDataViewType)
            throw new BadInputException($"text column '{name}' must be a scalar string (Text), found {Describe(column)}");
    }

    private static string Describe(SchemaShape.Column c) =>
        (c.IsKey ? "Key<" + c.ItemType + ">" : c.ItemType.ToString()) + (c.Kind == SchemaShape.Column.VectorKind.Scalar ? "" : " vector");
}
