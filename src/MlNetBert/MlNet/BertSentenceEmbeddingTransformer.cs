using Microsoft.ML;
using Microsoft.ML.Data;
using MlNetBert.Checkpoints;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.Modeling;
using MlNetBert.Tasks;
using MlNetBert.Training;

namespace MlNetBert.MlNet;

/// <summary>Options of <c>mlContext.Transforms.Text.BertSentenceEmbedding</c>; every property has a working default.</summary>
public sealed record BertSentenceEmbeddingOptions
{
    /// <summary>
    /// Where the encoder comes from: a built-in checkpoint name (<c>minilm-l6</c>, the default; <c>arctic-xs</c>), a
    /// HuggingFace BERT folder, a fine-tuned sentence-embedding <c>model.zip</c> (<c>mlnetbert train --task
    /// sentence-embedding</c>, or an ML.NET model saved from the bi-encoder trainer) or an exported embedding <c>.onnx</c>.
    /// </summary>
    public string Model { get; init; } = CheckpointStore.DefaultName;

    /// <summary>Checkpoints only: how tokens are pooled (default mean, as all-MiniLM-L6-v2 was trained). Model files keep their own.</summary>
    public Pooling Pooling { get; init; } = Pooling.Mean;

    /// <summary>Checkpoints only: L2-normalise the vectors (default true). Model files keep their own setting.</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>Checkpoints only: tokens per text, special tokens included (default 256); longer texts are truncated.</summary>
    public int MaxSequenceLength { get; init; } = PretrainedEmbeddingModel.DefaultMaxLength;

    /// <summary>Checkpoints and model.zip files: export with int8 weights (faster on CPU; cosine to float32 ≥ 0.98 per row, checked at Fit). Default false.</summary>
    public bool Int8 { get; init; }

    /// <summary>Texts per ONNX Runtime call (default 32); rows are read in blocks and run length-sorted.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>ONNX Runtime settings (threads, CPU or CUDA).</summary>
    public BertOnnxOptions? OnnxOptions { get; init; }

    /// <summary>Throws <see cref="BadInputException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Model))
            throw new BadInputException("option Model is empty: expected a checkpoint name (minilm-l6), a HuggingFace folder, a model.zip or an .onnx file");
        if (BatchSize < 1)
            throw new BadInputException($"option BatchSize = {BatchSize} is invalid: expected at least 1");
        if (MaxSequenceLength is < 3 or > 512)
            throw new BadInputException($"option MaxSequenceLength = {MaxSequenceLength} is invalid: expected 3 to 512");
        OnnxOptions?.Validate();
    }
}

/// <summary>
/// A text column → a vector of floats (a sentence embedding) for any ML.NET learner after it (SdcaMaximumEntropy,
/// LightGbm, KMeans...). Created by <c>mlContext.Transforms.Text.BertSentenceEmbedding(...)</c>.
/// </summary>
/// <remarks>
/// <see cref="Fit"/> turns the source into one verified ONNX embedding model: an <c>.onnx</c> is used as it is; a
/// checkpoint or a <c>model.zip</c> is exported once (parity-checked against TorchSharp on the first rows of the
/// training data) to a temporary file. Scoring then runs on ONNX Runtime only, in length-sorted batches, and a saved
/// pipeline holds that ONNX file inside its <c>.zip</c>: loading it needs neither TorchSharp nor a checkpoint cache.
/// It lives in MlNetBert, not MlNetBert.Inference, because it is an ML.NET transform (and Fit may export with TorchSharp).
/// </remarks>
public sealed class BertSentenceEmbeddingEstimator : IEstimator<BertSentenceEmbeddingTransformer>
{
    private readonly BertSentenceEmbeddingOptions _options;

    internal BertSentenceEmbeddingEstimator(string outputColumnName, string inputColumnName, BertSentenceEmbeddingOptions options)
    {
        options.Validate();
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        _options = options;
    }

    public string OutputColumnName { get; }

    public string InputColumnName { get; }

    /// <summary>Checks that the input is a text column and declares the output, a known-size vector of Single.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        if (!MlNetSchema.TryFind(inputSchema, InputColumnName, out var column))
            throw new BadInputException($"text column '{InputColumnName}' not found in the input (columns: {string.Join(", ", inputSchema.Select(c => c.Name))})");
        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.ItemType is not TextDataViewType)
            throw new BadInputException($"text column '{InputColumnName}' must be a scalar string (Text), found {MlNetSchema.Describe(column)}");
        // The length is known only once the model is resolved; a schema shape records only that it is fixed.
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(OutputColumnName, new VectorDataViewType(NumberDataViewType.Single, 1));
        return MlNetSchema.Append(inputSchema, builder.ToSchema());
    }

    /// <summary>Resolves the model to one verified ONNX embedding file and returns the transformer that owns it.</summary>
    public BertSentenceEmbeddingTransformer Fit(IDataView input)
    {
        GetOutputSchema(MlNetSchema.ShapeOf(input.Schema));
        string source = _options.Model;
        string extension = Path.GetExtension(source).ToLowerInvariant();
        if (extension == ".onnx")
        {
            var model = BertOnnxModel.Load(source, _options.OnnxOptions);
            return new BertSentenceEmbeddingTransformer(RequireEmbedding(model), InputColumnName, OutputColumnName, _options.BatchSize, ownedFile: null);
        }

        BertTaskModel torch = extension == ".zip" && File.Exists(source)
            ? BertTaskModel.Load(source)
            : PretrainedEmbeddingModel.Create(new CheckpointStore().Resolve(source), _options.Pooling, _options.Normalize, _options.MaxSequenceLength);
        string onnxPath = Path.Combine(Path.GetTempPath(), $"mlnetbert-embedding-{Guid.NewGuid():N}.onnx");
        using (torch)
        {
            if (torch.TaskDefinition is not SentenceEmbeddingTask)
                throw new BadInputException($"{source}: a '{torch.Card.Task}' model cannot embed sentences (expected a '{SentenceEmbeddingTask.TaskName}' model, or a checkpoint name)");
            // Verified on the user's own first rows: the texts this pipeline will actually see.
            var check = FirstTexts(input, 32).Select(t => (t, (string?)null)).ToList();
            var export = new OnnxExportOptions { Quantize = _options.Int8 ? OnnxQuantization.Int8 : OnnxQuantization.None };
            TrainedModelExport.Export(torch, onnxPath, check, export);
        }
        try
        {
            var model = BertOnnxModel.Load(onnxPath, _options.OnnxOptions);
            return new BertSentenceEmbeddingTransformer(model, InputColumnName, OutputColumnName, _options.BatchSize, ownedFile: onnxPath);
        }
        catch
        {
            File.Delete(onnxPath);
            throw;
        }
    }

    internal static BertOnnxModel RequireEmbedding(BertOnnxModel model)
    {
        if (model.TaskDefinition is SentenceEmbeddingTask)
            return model;
        string message = $"{model.Path}: a '{model.Task}' model cannot embed sentences (expected a '{SentenceEmbeddingTask.TaskName}' model; score classifiers with ApplyBertOnnxModel)";
        model.Dispose();
        throw new BadInputException(message);
    }

    private List<string> FirstTexts(IDataView input, int count)
    {
        var column = input.Schema[InputColumnName];
        var texts = new List<string>(count);
        using var cursor = input.GetRowCursor([column]);
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
        ReadOnlyMemory<char> value = default;
        while (texts.Count < count && cursor.MoveNext())
        {
            getter(ref value);
            if (!value.IsEmpty)
                texts.Add(value.ToString());
        }
        return texts;
    }
}

/// <summary>
/// The fitted sentence-embedding featurizer: adds a vector column of <see cref="Dimension"/> floats, computed by ONNX
/// Runtime lazily as a cursor moves (rows read in blocks of 256, run length-sorted in batches). Saved by
/// <c>mlContext.Model.Save</c> with the ONNX file inside the <c>.zip</c>.
/// </summary>
/// <remarks>Owns its <see cref="BertOnnxModel"/> (an ONNX Runtime session) and, when it exported one, the ONNX file: dispose it when done.</remarks>
public sealed class BertSentenceEmbeddingTransformer : ITransformer, IDisposable, IBertRowScorer
{
    private readonly string? _ownedFile;

    internal BertSentenceEmbeddingTransformer(BertOnnxModel model, string inputColumnName, string outputColumnName, int batchSize, string? ownedFile)
    {
        Model = model;
        InputColumnName = inputColumnName;
        OutputColumnName = outputColumnName;
        BatchSize = batchSize;
        _ownedFile = ownedFile;
    }

    /// <summary>The ONNX embedding model (its card says checkpoint, pooling, normalisation and dimension).</summary>
    public BertOnnxModel Model { get; }

    public string InputColumnName { get; }

    public string OutputColumnName { get; }

    /// <summary>Texts per ONNX Runtime call.</summary>
    public int BatchSize { get; }

    /// <summary>The vector's length (384 for minilm-l6).</summary>
    public int Dimension => Model.Card.EmbeddingDimension;

    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        BertTransformer.CheckTextColumns(inputSchema, [InputColumnName]);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        SentenceEmbeddingTraining.CosineSimilarity.AddOutputColumns(builder, OutputColumnName, "", Model.Card);
        return builder.ToSchema();
    }

    public IDataView Transform(IDataView input) => new BertScoredDataView(this, input, GetOutputSchema(input.Schema));

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new BertRowMapper(this, inputSchema, GetOutputSchema(inputSchema));

    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        MlNetModelStore.Save(ctx, ModelSignature, MlNetModelStore.BertSentenceEmbeddingSignature,
            w =>
            {
                w.Write(InputColumnName);
                w.Write(OutputColumnName);
                w.Write(BatchSize);
            },
            stream => MlNetModelStore.CopyOnnx(Model, stream));

    private const string ModelSignature = "BERTEMBD";

    internal static BertSentenceEmbeddingTransformer LoadFrom(object ctx) =>
        MlNetModelStore.Load(ctx, ModelSignature, MlNetModelStore.BertSentenceEmbeddingSignature, (reader, file) =>
        {
            string input = reader.ReadString();
            string output = reader.ReadString();
            int batchSize = reader.ReadInt32();
            return MlNetModelStore.LoadOwnedOnnx(file, (model, owned) =>
                new BertSentenceEmbeddingTransformer(BertSentenceEmbeddingEstimator.RequireEmbedding(model), input, output, batchSize, owned));
        });

    public void Dispose()
    {
        Model.Dispose();
        if (_ownedFile is not null)
            File.Delete(_ownedFile);
    }

    IReadOnlyList<string> IBertRowScorer.TextColumns => [InputColumnName];

    TrainingTask IBertRowScorer.Task => SentenceEmbeddingTraining.CosineSimilarity;

    string IBertRowScorer.ScoreColumnName => OutputColumnName;

    IReadOnlyList<Prediction> IBertRowScorer.Score(List<string> texts, List<string>? texts2) => Model.PredictBatch(texts, null, BatchSize);
}
