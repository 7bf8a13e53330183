using MlNetBert.Checkpoints;
using MlNetBert.Export;
using MlNetBert.Inference;
using MlNetBert.Serving;
using MlNetBert.Serving.Load;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace MlNetBert.Cli.Tests;

/// <summary>
/// Real exported models for the serving tests, built once per test process: the all-MiniLM-L6-v2 encoder with seeded
/// random heads (as tests/MlNetBert.Tests/ExportFixture.cs does), exported by <see cref="OnnxExporter"/>. A
/// two-label sentiment classifier and a sentence-similarity cross-encoder (score scale 5).
/// </summary>
[TestClass]
public sealed class ServeModels
{
    public static readonly string[] Labels = ["negative", "positive"];
    private static readonly Lazy<(string Folder, string Classifier, string Similarity, string Tiny)> Files = new(Export);

    /// <summary>The classifier's file; its metadata carries the training metrics accuracy 0.875 and macro_f1 0.8.</summary>
    public static string Classifier => Files.Value.Classifier;

    public static string Similarity => Files.Value.Similarity;

    /// <summary>
    /// A 2-layer, hidden-32 classifier with random weights and MiniLM's vocabulary (4 MB): the same inputs and outputs
    /// as <see cref="Classifier"/> for tests that only read the signature, loaded in a fraction of the time.
    /// </summary>
    public static string TinyClassifier => Files.Value.Tiny;

    private static (string, string, string, string) Export()
    {
        string folder = Paths.TempDir();
        var checkpoint = new CheckpointStore().Resolve("minilm-l6");
        var encoder = checkpoint.LoadTensors();
        string vocab = File.ReadAllText(checkpoint.VocabPath);
        int hidden = checkpoint.Config.HiddenSize;
        string classifier = Path.Combine(folder, "sentiment.onnx");
        OnnxExporter.Export(checkpoint.Config, WithHead(encoder, Labels.Length, hidden, seed: 20240917), new ModelCard
        {
            Task = ClassificationTask.TextName,
            Pooling = "mean",
            Labels = Labels,
            MaxLength = 128,
            Checkpoint = checkpoint.Name,
            LowerCase = checkpoint.LowerCase,
        }, vocab, classifier, new Dictionary<string, string> { ["mlnetbert.metric.accuracy"] = "0.875", ["mlnetbert.metric.macro_f1"] = "0.8" });
        string similarity = Path.Combine(folder, "sts.onnx");
        OnnxExporter.Export(checkpoint.Config, WithHead(encoder, 1, hidden, seed: 7), new ModelCard
        {
            Task = SentenceSimilarityTask.TaskName,
            Pooling = "mean",
            ScoreScale = 5f,
            MaxLength = 128,
            Checkpoint = checkpoint.Name,
            LowerCase = checkpoint.LowerCase,
        }, vocab, similarity);
        string tiny = Path.Combine(folder, "tiny.onnx");
        var tinyConfig = checkpoint.Config with { HiddenSize = 32, NumAttentionHeads = 4, IntermediateSize = 64, NumHiddenLayers = 2, AddPoolingLayer = false };
        OnnxExporter.Export(tinyConfig, WithHead(Shrink(encoder, checkpoint.Config, tinyConfig), Labels.Length, tinyConfig.HiddenSize, seed: 3), new ModelCard
        {
            Task = ClassificationTask.TextName,
            Pooling = ModelCard.PoolingCls,
            Labels = Labels,
            MaxLength = 128,
            Checkpoint = checkpoint.Name,
            LowerCase = checkpoint.LowerCase,
        }, vocab, tiny);
        return (folder, classifier, similarity, tiny);
    }

    // The real checkpoint's tensor names, with the hidden and intermediate sizes cut down and random values.
    private static Dictionary<string, TensorData> Shrink(Dictionary<string, TensorData> encoder, BertConfig from, BertConfig to)
    {
        var random = new Random(5);
        var tensors = new Dictionary<string, TensorData>(StringComparer.Ordinal);
        foreach (var (name, tensor) in encoder)
        {
            if (name.StartsWith("pooler.", StringComparison.Ordinal))
                continue;
            if (name.StartsWith("encoder.layer.", StringComparison.Ordinal) && int.Parse(name.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture) >= to.NumHiddenLayers)
                continue;
            long[] shape = tensor.Shape.Select(d => d == from.HiddenSize ? to.HiddenSize : d == from.IntermediateSize ? to.IntermediateSize : d).ToArray();
            float[] data = new float[shape.Aggregate(1L, (a, d) => a * d)];
            for (int i = 0; i < data.Length; i++)
                data[i] = (float)(random.NextDouble() - 0.5) * 0.1f;
            tensors[name] = new TensorData(name, shape, data);
        }
        return tensors;
    }

    // Uniform in ±0.5: logits of a few units on MiniLM's mean-pooled states, so labels differ between sentences.
    private static Dictionary<string, TensorData> WithHead(Dictionary<string, TensorData> encoder, int outputs, int hidden, int seed)
    {
        var random = new Random(seed);
        float[] weight = Enumerable.Range(0, outputs * hidden).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        float[] bias = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        return new(encoder, StringComparer.Ordinal)
        {
            ["classifier.weight"] = new TensorData("classifier.weight", [outputs, hidden], weight),
            ["classifier.bias"] = new TensorData("classifier.bias", [outputs], bias),
        };
    }
}

/// <summary>A server hosted in the test process on a free loopback port (real Kestrel sockets), with a client for it.</summary>
internal sealed class ServeHost : IAsyncDisposable
{
    private bool _stopped;

    private ServeHost(WebApplication app, Uri baseUri)
    {
        App = app;
        BaseUri = baseUri;
    }

    public WebApplication App { get; }

    public Uri BaseUri { get; }

    public HttpClient Client { get; } = ServeLoadTest.CreateClient(64);

    public static async Task<ServeHost> StartAsync(ServerOptions options)
    {
        var app = ServerApp.Build(options with { Urls = "http://127.0.0.1:0" }, ["--Logging:LogLevel:Default=Warning"]);
        await app.StartAsync();
        var host = new ServeHost(app, new Uri(app.Urls.First()));
        await ServeLoadTest.WaitUntilReadyAsync(host.Client, host.BaseUri, TimeSpan.FromMinutes(1));
        return host;
    }

    public Task<HttpResponseMessage> PostAsync(string path, string body, string? contentType = "application/json")
    {
        var content = new StringContent(body);
        content.Headers.ContentType = contentType is null ? null : System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        return Client.PostAsync(new Uri(BaseUri, path), content);
    }

    /// <summary>Stops the server gracefully (requests in flight are answered first).</summary>
    public async Task StopAsync()
    {
        if (_stopped)
            return;
        _stopped = true;
        await App.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await StopAsync();
        await App.DisposeAsync();
    }
}
