using MlNetBert.Inference;

namespace MlNetBert.Training;

/// <summary>
/// Opens a trained model named the ways a user names one: a run folder (or an ensemble folder), a <c>model.zip</c>
/// (TorchSharp) or a <c>model.onnx</c> (ONNX Runtime). Teachers and ensemble members are opened through here.
/// </summary>
public static class TrainedModels
{
    /// <summary>The file in a run or ensemble folder that is read when the folder is named.</summary>
    public const string OnnxFileName = "model.onnx";

    /// <summary>The trained ML.NET model in a run folder.</summary>
    public const string ZipFileName = "model.zip";

    /// <summary>
    /// The model file <paramref name="path"/> names: the path itself when it is a file; in a folder, its
    /// <c>model.onnx</c> when <paramref name="preferOnnx"/> (the faster path) or when it has no <c>model.zip</c>,
    /// else its <c>model.zip</c>. Throws <see cref="BadInputException"/> when there is no such file.
    /// </summary>
    public static string Resolve(string path, bool preferOnnx)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            string onnx = Path.Combine(path, OnnxFileName), zip = Path.Combine(path, ZipFileName);
            if (File.Exists(onnx) && (preferOnnx || !File.Exists(zip)))
                return onnx;
            if (File.Exists(zip))
                return zip;
            throw new BadInputException($"{path}: a folder without {OnnxFileName} or {ZipFileName}; pass a run folder from 'mlnetbert train', an ensemble folder, or a model file");
        }
        if (!File.Exists(path))
            throw new BadInputException($"{path}: model file not found");
        return path;
    }

    /// <summary>
    /// Opens the model <paramref name="path"/> names (see <see cref="Resolve"/>): a <c>.onnx</c> file with ONNX
    /// Runtime, a <c>.zip</c> with TorchSharp. The caller owns the result.
    /// </summary>
    public static IBertPredictor Open(string path, bool preferOnnx = true)
    {
        string file = Resolve(path, preferOnnx);
        return Path.GetExtension(file).ToLowerInvariant() switch
        {
            ".onnx" => BertOnnxModel.Load(file),
            ".zip" => BertTaskModel.Load(file),
            _ => throw new BadInputException($"{file}: unknown model file type (expected model.zip from 'mlnetbert train', model.onnx from 'mlnetbert export', or a run folder)"),
        };
    }

    /// <summary>
    /// One model, or the <see cref="ModelEnsemble"/> of several (averaged; they must share task and labels). The
    /// caller owns the result.
    /// </summary>
    public static IBertPredictor OpenAll(IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        if (paths.Count == 0)
            throw new ArgumentException("no model paths", nameof(paths));
        var opened = new List<IBertPredictor>();
        try
        {
            foreach (var p in paths)
                opened.Add(Open(p));
            return opened.Count == 1 ? opened[0] : ModelEnsemble.Create(opened, paths);
        }
        catch
        {
            foreach (var m in opened)
                m.Dispose();
            throw;
        }
    }
}
