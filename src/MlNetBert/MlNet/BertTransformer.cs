using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Inference;
using MlNetBert.Tasks;
using MlNetBert.Training;

namespace MlNetBert.MlNet;

/// <summary>
/// A fine-tuned BERT model as an ML.NET transformer. <see cref="Transform"/> scores rows lazily in length-sorted
/// batches; <see cref="GetRowToRowMapper"/> serves <c>PredictionEngine</c>. Classification adds <c>Score</c>
/// (probabilities, one per label) and <c>PredictedLabel</c> (a key with the label names); similarity adds
/// <c>Score</c> on the label's scale.
/// </summary>
public sealed class BertTransformer : ITransformer, IDisposable, IBertRowScorer
{
    internal BertTransformer(BertTaskModel model, BertTrainingOptions options)
        : this(model, options.ScoreColumnName, options.PredictedLabelColumnName)
    {
    }

    private BertTransformer(BertTaskModel model, string scoreColumnName, string predictedLabelColumnName)
    {
        Model = model;
        ScoreColumnName = scoreColumnName;
        PredictedLabelColumnName = predictedLabelColumnName;
    }

    /// <summary>The underlying model: predict directly, export it, or look at the training history.</summary>
    public BertTaskModel Model { get; }

    public string ScoreColumnName { get; }

    public string PredictedLabelColumnName { get; }

    /// <summary>Rows scored per forward pass inside <see cref="Transform"/>.</summary>
    public int BatchSize { get; init; } = 64;

    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        Model.Task.AddOutputColumns(builder, ScoreColumnName, PredictedLabelColumnName, Model.Card);
        return builder.ToSchema();
    }

    public IDataView Transform(IDataView input) => new BertScoredDataView(this, input, GetOutputSchema(input.Schema));

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new BertRowMapper(this, inputSchema, GetOutputSchema(inputSchema));

    /// <summary>
    /// Saves into an ML.NET model: <c>mlContext.Model.Save(model, schema, "model.zip")</c> keeps the weights,
    /// vocabulary and labels inside the <c>.zip</c>; <c>mlContext.Model.Load</c> reads them back (see
    /// <see cref="MlNetModelStore"/>).
    /// </summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        MlNetModelStore.Save(ctx, ModelSignature, MlNetModelStore.BertTransformerSignature,
            w =>
            {
                w.Write(ScoreColumnName);
                w.Write(PredictedLabelColumnName);
                w.Write(BatchSize);
            },
            Model.WriteTo);

    private const string ModelSignature = "BERTXFRM";

    internal static BertTransformer LoadFrom(object ctx) =>
        MlNetModelStore.Load(ctx, ModelSignature, MlNetModelStore.BertTransformerSignature, (reader, file) =>
        {
            string score = reader.ReadString();
            string predicted = reader.ReadString();
            int batchSize = reader.ReadInt32();
            return new BertTransformer(BertTaskModel.Load(file), score, predicted) { BatchSize = batchSize };
        });

    /// <summary>Saves the model (weights, config, vocabulary, task) to one file of its own, atomically.</summary>
    public void SaveTo(string path) => Model.Save(path);

    /// <summary>Loads a model saved with <see cref="SaveTo"/>.</summary>
    public static BertTransformer Load(MLContext mlContext, string path)
    {
        var model = BertTaskModel.Load(path);
        return new BertTransformer(model, new BertTrainingOptions());
    }

    public void Dispose() => Model.Dispose();

    internal IReadOnlyList<string> TextColumns =>
        Model.Card.Text2Column is { } t2 ? [Model.Card.TextColumn, t2] : [Model.Card.TextColumn];

    IReadOnlyList<string> IBertRowScorer.TextColumns => TextColumns;

    TrainingTask IBertRowScorer.Task => Model.Task;

    IReadOnlyList<Prediction> IBertRowScorer.Score(List<string> texts, List<string>? texts2) => Model.PredictBatch(texts, texts2, BatchSize);

    private void CheckInput(DataViewSchema schema) => CheckTextColumns(schema, TextColumns, Model.Task.TokenLevel);

    /// <summary>Checks that every column exists and holds text (or, with <paramref name="words"/>, a vector of words for the first column).</summary>
    internal static void CheckTextColumns(DataViewSchema schema, IEnumerable<string> names, bool words = false)
    {
        foreach (var name in names)
        {
            var column = schema.GetColumnOrNull(name)
                ?? throw new BadInputException($"text column '{name}' not found in the input (columns: {string.Join(", ", schema.Select(c => c.Name))})");
            if (words && MlNetText.IsWords(column.Type))
                continue;
            if (column.Type is not TextDataViewType)
                throw new BadInputException($"text column '{name}' must be a string (Text), found {column.Type}");
        }
    }
}
