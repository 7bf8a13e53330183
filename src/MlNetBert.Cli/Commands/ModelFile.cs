using MlNetBert.Inference;
using MlNetBert.Runs;
using MlNetBert.Training;

namespace MlNetBert.Cli.Commands;

/// <summary>A trained model from either file kind: an MlNetBert .zip (TorchSharp) or an exported .onnx (ONNX Runtime).</summary>
internal sealed class ModelFile : IDisposable
{
    private readonly BertTaskModel? _zip;
    private readonly BertOnnxModel? _onnx;

    private ModelFile(BertTaskModel? zip, BertOnnxModel? onnx)
    {
        _zip = zip;
        _onnx = onnx;
    }

    public static ModelFile Open(string path)
    {
        path = RunFolder.ResolveModelZip(path);
        if (!File.Exists(path))
            throw new BadInputException($"{path}: model file not found");
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".onnx" => new ModelFile(null, BertOnnxModel.Load(path)),
            ".zip" when MlNetBert.NasBert.NasBertOnnxExporter.IsMlNetNasBertZip(path) => throw new BadInputException(
                $"{path}: an ML.NET NAS-BERT model (TextClassification / SentenceSimilarity); export it first and use the .onnx: mlnetbert export --model {path} --out model.onnx"),
            ".zip" => new ModelFile(BertTaskModel.Load(path), null),
            _ => throw new BadInputException($"{path}: unknown model file type (expected .zip from 'mlnetbert train' or .onnx from 'mlnetbert export')"),
        };
    }

    /// <summary>text-classification, pair-classification or sentence-similarity.</summary>
    public string Task => _onnx?.Task ?? TrainCommand.TaskName(_zip!.Info.Task);

    public bool IsSimilarity => Task == BertTasks.SentenceSimilarity;

    public bool IsPair => BertTasks.IsPair(Task);

    public IReadOnlyList<string> Labels => _onnx?.Labels ?? _zip!.Info.Labels;

    public BertTaskModel? TorchModel => _zip;

    /// <summary>Probabilities per row (classification) or scores (similarity), in input order.</summary>
    public (float[][]? Probabilities, float[]? Scores) Predict(IReadOnlyList<string> texts, IReadOnlyList<string>? texts2)
    {
        if (_zip is not null)
        {
            var p = _zip.Predict(texts, texts2);
            return (p.Probabilities, p.Scores);
        }
        var predictions = _onnx!.PredictBatch(texts, texts2);
        return IsSimilarity
            ? (null, predictions.Select(p => p.Score ?? float.NaN).ToArray())
            : (predictions.Select(p => p.Probabilities!).ToArray(), null);
    }

    public void Dispose()
    {
        _zip?.Dispose();
        _onnx?.Dispose();
    }
}
