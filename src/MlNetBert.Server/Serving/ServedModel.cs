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
        string path = ServableModelPath.Resolve(source.Path);
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
