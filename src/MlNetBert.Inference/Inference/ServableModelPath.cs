namespace MlNetBert.Inference;

/// <summary>
/// Which exported ONNX file a path names, for every command and server that runs one: the path itself when it is a
/// file, or the <c>model.onnx</c> inside a folder (a run folder). A trained <c>.zip</c> or a folder without an export
/// gets the export command to run instead.
/// </summary>
public static class ServableModelPath
{
    /// <summary>The file name an exported model has inside a run folder.</summary>
    public const string OnnxFileName = "model.onnx";

    /// <summary>The file name a trained ML.NET model has inside a run folder.</summary>
    public const string ZipFileName = "model.zip";

    /// <summary>Resolves <paramref name="path"/> to the ONNX file to load.</summary>
    /// <param name="path">An .onnx file or a folder holding model.onnx.</param>
    /// <param name="whyNoModel">For a folder without any model: a clause saying why (for example, its run failed), or "".</param>
    /// <exception cref="BadInputException">A folder without model.onnx, or a trained .zip: the message gives the export command.</exception>
    public static string Resolve(string path, Func<string, string>? whyNoModel = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            string onnx = Path.Combine(path, OnnxFileName);
            if (File.Exists(onnx))
                return onnx;
            string zip = Path.Combine(path, ZipFileName);
            throw new BadInputException(File.Exists(zip)
                ? $"{path}: run folder without model.onnx; export it first: mlnetbert export --model {zip} --out {onnx}"
                : $"{path}: a folder without model.onnx{whyNoModel?.Invoke(path)}; pass an exported .onnx file or a run folder");
        }
        if (string.Equals(Path.GetExtension(path), ".zip", StringComparison.OrdinalIgnoreCase))
            throw new BadInputException($"{path}: serve runs exported ONNX models, not a trained .zip; export it first: mlnetbert export --model {path} --out model.onnx");
        return path;
    }
}
