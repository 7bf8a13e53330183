using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using MlNetBert.Inference;

namespace MlNetBert.Serving;

/// <summary>
/// The model a server answers with, and how it names it: <see cref="Name"/> (the file name, or
/// <see cref="ServerOptions.ModelName"/>) and <see cref="Version"/>, the first 12 hex digits of the file's SHA-256,
/// so a client can tell when the model behind a name changed.
/// </summary>
internal sealed class ServedModel : IDisposable
{
    /// <summary>Metadata keys with this prefix hold training metrics (<c>mlnetbert train</c> writes them on export).</summary>
    public const string MetricPrefix = "mlnetbert.metric.";

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
    public static ServedModel Load(ServerOptions options, Action<string> log)
    {
        string path = ResolveModelFile(options.ModelPath);
        var model = BertOnnxModel.Load(path, new BertOnnxOptions { Provider = options.Provider, IntraOpThreads = options.Threads, Log = log });
        try
        {
            string version;
            using (var file = File.OpenRead(path))
                version = Convert.ToHexStringLower(SHA256.HashData(file))[..12];
            // A run folder serves under the folder's name rather than "model".
            string name = options.ModelName ?? (path == options.ModelPath
                ? Path.GetFileNameWithoutExtension(path)
                : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.ModelPath))));
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
    public void WriteIdentity(Utf8JsonWriter json)
    {
        json.WriteStartObject("model");
        json.WriteString("name", Name);
        json.WriteString("version", Version);
        json.WriteString("task", Model.Task);
        json.WriteEndObject();
    }

    /// <summary>The model card at <c>GET /v1/model</c>: what a client needs to call the model and judge it.</summary>
    public void WriteCard(Utf8JsonWriter json, ServerOptions options)
    {
        var meta = Model.Metadata;
        json.WriteStartObject();
        json.WriteString("name", Name);
        json.WriteString("version", Version);
        json.WriteString("task", Model.Task);
        json.WriteBoolean("pair", IsPair);
        json.WriteStartArray("labels");
        foreach (var label in Model.Labels)
            json.WriteStringValue(label);
        json.WriteEndArray();
        json.WriteNumber("max_length", Model.MaxLength);
        json.WriteString("checkpoint", Model.Checkpoint);
        json.WriteString("pooling", meta.GetValueOrDefault(ModelFileFormat.PoolingKey) ?? "");
        json.WriteStartObject("metrics");
        foreach (var (key, value) in meta.Where(kv => kv.Key.StartsWith(MetricPrefix, StringComparison.Ordinal)))
        {
            string metric = key[MetricPrefix.Length..];
            // Metrics are stored as invariant-culture text; numbers go out as JSON numbers, anything else as text.
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && double.IsFinite(number))
                json.WriteNumber(metric, number);
            else
                json.WriteString(metric, value);
        }
        json.WriteEndObject();
        json.WriteString("project_version", meta.GetValueOrDefault(ModelFileFormat.ProjectVersionKey) ?? "");
        json.WriteString("format_version", meta.GetValueOrDefault(ModelFileFormat.FormatVersionKey) ?? "");
        json.WriteString("execution_provider", Model.ExecutionProvider);
        json.WriteStartObject("limits");
        json.WriteNumber("max_inputs", options.MaxInputs);
        json.WriteNumber("max_text_chars", options.MaxTextChars);
        json.WriteString("long_text", options.LongText == LongTextPolicy.Reject ? "reject" : "truncate");
        json.WriteNumber("max_body_bytes", options.MaxBodyBytes);
        json.WriteEndObject();
        json.WriteStartObject("batching");
        json.WriteBoolean("enabled", options.Batching);
        json.WriteNumber("max_batch_size", options.MaxBatchSize);
        json.WriteNumber("max_wait_ms", options.MaxWaitMs);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    public void Dispose() => Model.Dispose();
}
