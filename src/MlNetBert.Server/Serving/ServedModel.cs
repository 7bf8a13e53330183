using System.Globalization;
using System.Security.Cryptography;
using MlNetBert.Inference;

namespace MlNetBert.Serving;

/// <summary>
/// The model a server answers with, and how it names it: <see cref="Name"/> (the file name, or
/// the name given with <c>--model name=path</c>) and <see cref="Version"/>, the first 12 hex digits of the file's SHA-256,
/// so a client can tell when the model behind a name changed.
/// </summary>
internal sealed class ServedModel : IDisposable
{
    private ServedModel(BertOnnxModel model, string name, string version)
    {
        Model = model;
        Name = name;
        Version = version;
    }

    public BertOnnxModel Model { get; }

    public string Name { get; }

    public string Version { get; }

    public bool IsPair => Model.TaskDefinition.ReadsPair;

    /// <summary>Loads the model; <see cref="BadInputException"/> names the file when it is missing or not an MlNetBert model.</summary>
    public static ServedModel Load(ModelSource source, ServerOptions options, Action<string> log)
    {
        string path = ResolveModelFile(source.Path);
        var model = BertOnnxModel.Load(path, new BertOnnxOptions { Provider = options.Provider, IntraOpThreads = options.Threads, Log = log });
        try
        {
            string version;
            using (var file = File.OpenRead(path))
                version = Convert.ToHexStringLower(SHA256.HashData(file))[..12];
            // A run folder serves under the folder's name rather than "model".
            string name = source.Name ?? (path == source.Path
                ? Path.GetFileNameWithoutExtension(path)
                : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(source.Path))));
            return new ServedModel(model, name, version);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The ONNX file to serve: the path itself, or a run folder's model.onnx. A trained .zip (or a run folder
    /// trained with --no-export) gets the export command to run first.
    /// </summary>
    internal static string ResolveModelFile(string path)
    {
        if (Directory.Exists(path))
        {
            string onnx = Path.Combine(path, "model.onnx");
            if (File.Exists(onnx))
                return onnx;
            string zip = Path.Combine(path, "model.zip");
            throw new BadInputException(File.Exists(zip)
                ? $"{path}: run folder without model.onnx; export it first: mlnetbert export --model {zip} --out {onnx}"
                : $"{path}: a folder without model.onnx; pass an exported .onnx file or a run folder");
        }
        if (string.Equals(Path.GetExtension(path), ".zip", StringComparison.OrdinalIgnoreCase))
            throw new BadInputException($"{path}: serve runs exported ONNX models, not a trained .zip; export it first: mlnetbert export --model {path} --out model.onnx");
        return path;
    }

    /// <summary>The <c>{"name", "version", "task"}</c> object every prediction response starts with.</summary>
    public ModelIdentity Identity => new(Name, Version, Model.Task);

    /// <summary>The model card at <c>GET /v1/model</c>: what a client needs to call the model and judge it.</summary>
    public ServedModelInfo Card(ServerOptions options)
    {
        var card = Model.Card;
        // Training metrics go out as JSON numbers (the card parsed them from the file's invariant-culture text).
        var metrics = card.Metrics.Where(kv => double.IsFinite(kv.Value)).ToDictionary(kv => kv.Key, kv => (object)kv.Value, StringComparer.Ordinal);
        return new ServedModelInfo(Name, Version, Model.Task, IsPair, [.. Model.Labels], Model.MaxLength, Model.Checkpoint,
            card.Pooling, metrics, card.ProjectVersion, ModelFileFormat.Version,
            Model.ExecutionProvider,
            new ModelLimits(options.MaxInputs, options.MaxTextChars, options.LongText == LongTextPolicy.Reject ? "reject" : "truncate", options.MaxBodyBytes),
            new BatchingSettings(options.Batching, options.MaxBatchSize, options.MaxWaitMs),
            $"/v1/models/{Uri.EscapeDataString(Name)}/predict",
            card.EmbeddingDimension > 0 ? card.EmbeddingDimension : null,
            card.EmbeddingDimension > 0 ? card.Normalize : null);
    }

    public void Dispose() => Model.Dispose();
}
