using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Inference;
using MlNetBert.Tasks;

namespace MlNetBert.MlNet;

/// <summary>
/// Scores an <see cref="IDataView"/> with an exported MlNetBert ONNX file (any variant: plain, optimized, int8,
/// float16) through <see cref="BertOnnxModel"/>: rows are read in blocks and predicted in length-sorted batches,
/// lazily, as a cursor moves. Adds the same columns as the trained <see cref="BertTransformer"/>: <c>Score</c>
/// (probabilities, one per label, with the label names as slot names) and <c>PredictedLabel</c> (a key whose values
/// are the label names; <c>MapKeyToValue</c> turns it into text), or for similarity one float <c>Score</c>.
/// Created by <c>mlContext.Transforms.ApplyBertOnnxModel(...)</c>.
/// </summary>
/// <remarks>Owns its <see cref="BertOnnxModel"/> (an ONNX Runtime session): dispose the transformer when done.</remarks>
public sealed class BertOnnxTransformer : ITransformer, IDisposable, IBertRowScorer
{
    internal BertOnnxTransformer(BertOnnxModel model, string textColumnName, string? text2ColumnName, int batchSize)
    {
        Model = model;
        Task = TrainingTasks.For(model.TaskDefinition);
        TextColumns = text2ColumnName is null ? [textColumnName] : [textColumnName, text2ColumnName];
        BatchSize = batchSize;
    }

    /// <summary>The loaded model file.</summary>
    public BertOnnxModel Model { get; }

    /// <summary>Rows per ONNX Runtime call.</summary>
    public int BatchSize { get; }

    public string ScoreColumnName => "Score";

    public string PredictedLabelColumnName => "PredictedLabel";

    public IReadOnlyList<string> TextColumns { get; }

    public bool IsRowToRowMapper => true;

    /// <summary>The model's task: the output columns and how each reads a prediction.</summary>
    public TrainingTask Task { get; }

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        BertTransformer.CheckTextColumns(inputSchema, TextColumns, Task.TokenLevel);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        Task.AddOutputColumns(builder, ScoreColumnName, PredictedLabelColumnName, Model.Card);
        return builder.ToSchema();
    }

    public IDataView Transform(IDataView input) => new BertScoredDataView(this, input, GetOutputSchema(input.Schema));

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new BertRowMapper(this, inputSchema, GetOutputSchema(inputSchema));

    /// <summary>
    /// Saves into an ML.NET model: the whole ONNX file goes inside the <c>.zip</c>, with the text columns and batch
    /// size; <c>mlContext.Model.Load</c> reads it back on ONNX Runtime's CPU provider (see <see cref="MlNetModelStore"/>).
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        MlNetModelStore.Save(ctx, ModelSignature, MlNetModelStore.BertOnnxTransformerSignature,
            w =>
            {
                w.Write(TextColumns.Count);
                foreach (var column in TextColumns)
                    w.Write(column);
                w.Write(BatchSize);
            },
            stream => MlNetModelStore.CopyOnnx(Model, stream));

    private const string ModelSignature = "BERTONNX";

    /// <summary>A copy of the ONNX file taken out of an ML.NET model; deleted when this transformer is disposed.</summary>
    private string? _ownedFile;

    internal static BertOnnxTransformer LoadFrom(object ctx) =>
        MlNetModelStore.Load(ctx, ModelSignature, MlNetModelStore.BertOnnxTransformerSignature, (reader, file) =>
        {
            int count = reader.ReadInt32();
            if (count is < 1 or > 2)
                throw new BadInputException($"the ML.NET model's MlNetBert ONNX transformer names {count} text columns (expected 1 or 2): the .zip is damaged");
            string text = reader.ReadString();
            string? text2 = count == 2 ? reader.ReadString() : null;
            int batchSize = reader.ReadInt32();
            return MlNetModelStore.LoadOwnedOnnx(file, (model, owned) => new BertOnnxTransformer(model, text, text2, batchSize) { _ownedFile = owned });
        });

    public void Dispose()
    {
        Model.Dispose();
        if (_ownedFile is not null)
            File.Delete(_ownedFile);
    }

    IReadOnlyList<Prediction> IBertRowScorer.Score(List<string> texts, List<string>? texts2) => Model.PredictBatch(texts, texts2, BatchSize);
}

/// <summary>
/// The estimator behind <c>mlContext.Transforms.ApplyBertOnnxModel</c>: nothing to train; <see cref="Fit"/> checks the
/// input columns and loads the model file into a <see cref="BertOnnxTransformer"/>.
/// </summary>
public sealed class BertOnnxEstimator : IEstimator<BertOnnxTransformer>
{
    private readonly string _modelPath;
    private readonly string _textColumn;
    private readonly string? _text2Column;
    private readonly int _batchSize;
    private readonly BertOnnxOptions _options;
    private readonly DataViewSchema _outputColumns;

    internal BertOnnxEstimator(string modelPath, string textColumn, string? text2Column, int batchSize, BertOnnxOptions? options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        _modelPath = modelPath;
        _textColumn = textColumn;
        _text2Column = text2Column;
        _batchSize = batchSize;
        _options = options ?? new BertOnnxOptions();
        // Load once now to fail early (missing or foreign file, wrong number of text columns) and learn the columns.
        using var model = BertOnnxModel.Load(modelPath, _options);
        bool pair = model.TaskDefinition.ReadsPair;
        if (pair && text2Column is null)
            throw new BadInputException($"{modelPath}: task '{model.Task}' reads two texts per row: give text2ColumnName");
        if (!pair && text2Column is not null)
            throw new BadInputException($"{modelPath}: task '{model.Task}' reads one text per row, but text2ColumnName '{text2Column}' was given");
        var builder = new DataViewSchema.Builder();
        TrainingTasks.For(model.TaskDefinition).AddOutputColumns(builder, "Score", "PredictedLabel", model.Card);
        _outputColumns = builder.ToSchema();
    }

    /// <summary>Checks that the text columns exist and hold text, and describes the added columns.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        foreach (var name in _text2Column is null ? [_textColumn] : new[] { _textColumn, _text2Column })
        {
            if (!MlNetSchema.TryFind(inputSchema, name, out var column))
                throw new BadInputException($"text column '{name}' not found in the input (columns: {string.Join(", ", inputSchema.Select(c => c.Name))})");
            if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.ItemType is not TextDataViewType)
                throw new BadInputException($"text column '{name}' must be a string (Text), found {column.ItemType}");
        }
        return MlNetSchema.Append(inputSchema, _outputColumns);
    }

    /// <summary>Loads the model file; the returned transformer owns it.</summary>
    public BertOnnxTransformer Fit(IDataView input)
    {
        GetOutputSchema(MlNetSchema.ShapeOf(input.Schema));
        return new BertOnnxTransformer(BertOnnxModel.Load(_modelPath, _options), _textColumn, _text2Column, _batchSize);
    }
}
