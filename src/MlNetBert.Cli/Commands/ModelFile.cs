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
