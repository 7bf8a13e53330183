using MlNetBert.Inference;
using MlNetBert.Runs;
using MlNetBert.Tasks;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary>A trained model from either file kind: an MlNetBert .zip (TorchSharp) or an exported .onnx (ONNX Runtime).</summary>
internal sealed class ModelFile : IDisposable
{
    private ModelFile(IBertPredictor predictor, BertTaskModel? torch)
    {
        Predictor = predictor;
        TorchModel = torch;
    }

    public static ModelFile Open(string path)
    {
        // A run folder gives its model.zip; an ensemble folder (model.onnx, no model.zip) its model.onnx.
        if (Directory.Exists(path) && !File.Exists(Path.Combine(path, TrainedModels.ZipFileName)) && File.Exists(Path.Combine(path, TrainedModels.OnnxFileName)))
            path = Path.Combine(path, TrainedModels.OnnxFileName);
        path = RunFolder.ResolveModelZip(path);
        if (!File.Exists(path))
            throw new BadInputException($"{path}: model file not found");
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".onnx":
                return new ModelFile(BertOnnxModel.Load(path), null);
            case ".zip" when MlNetBert.NasBert.NasBertOnnxExporter.IsMlNetNasBertZip(path):
                throw new BadInputException(
                    $"{path}: an ML.NET NAS-BERT model (TextClassification / SentenceSimilarity); export it first and use the .onnx: mlnetbert export --model {path} --out model.onnx");
            case ".zip":
                var torch = BertTaskModel.Load(path);
                return new ModelFile(torch, torch);
            default:
                throw new BadInputException($"{path}: unknown model file type (expected .zip from 'mlnetbert train' or .onnx from 'mlnetbert export')");
        }
    }

    /// <summary>
    /// A model that embeds: a sentence-embedding run folder, model.zip or model.onnx, or else a pretrained checkpoint
    /// (a built-in name or a HuggingFace folder) used as it is (<see cref="PretrainedEmbeddingModel"/>).
    /// </summary>
    /// <exception cref="BadInputException">The model is of another task: the message names it and what to pass instead.</exception>
    public static ModelFile OpenEmbedding(string spec, Action<string>? log = null)
    {
        if (NamesCheckpoint(spec))
        {
            var torch = PretrainedEmbeddingModel.Create(new MlNetBert.Checkpoints.CheckpointStore(log: log).Resolve(spec));
            return new ModelFile(torch, torch);
        }

        var file = Open(spec);
        if (file.Task is not SentenceEmbeddingTask)
        {
            file.Dispose();
            throw new BadInputException(
                $"{spec}: a '{file.Task.Name}' model does not produce embeddings; pass a '{SentenceEmbeddingTask.TaskName}' model (mlnetbert train --task {SentenceEmbeddingTask.TaskName}) or a checkpoint (minilm-l6, arctic-xs, a HuggingFace folder)");
        }

        return file;
    }

    /// <summary>
    /// True when <paramref name="spec"/> is not a model file or run folder, so it names a pretrained checkpoint (a
    /// built-in name, or a HuggingFace folder without run.json or model.zip).
    /// </summary>
    public static bool NamesCheckpoint(string spec) =>
        !File.Exists(spec) && !(Directory.Exists(spec)
            && (File.Exists(Path.Combine(spec, RunFolder.RunJsonName)) || File.Exists(Path.Combine(spec, RunFolder.ModelZipName))));

    /// <summary>The model, whichever runtime holds it.</summary>
    public IBertPredictor Predictor { get; }

    public ModelCard Card => Predictor.Card;

    /// <summary>The task's inference side: inputs, how predictions are shown.</summary>
    public InferenceTask Task => Predictor.TaskDefinition;

    /// <summary>The task's training side: how a labelled file is read and scored.</summary>
    public TrainingTask Training => TrainingTasks.For(Task);

    /// <summary>The TorchSharp model when the file is a model.zip (export needs it); null for an ONNX file.</summary>
    public BertTaskModel? TorchModel { get; }

    /// <summary>Predictions in input order.</summary>
    public IReadOnlyList<Prediction> Predict(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2) => Predictor.PredictBatch(texts, texts2);

    public void Dispose() => Predictor.Dispose();
}
