using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using MlNetBert.Data;
using MlNetBert.Runs;
using MlNetBert.Training;

namespace MlNetBert.Dashboard.Tests;

/// <summary>
/// The runs folder the dashboard tests look at, built once per test process: two real training runs on the shipped
/// sample (all-MiniLM-L6-v2, one epoch, validated on 32 rows; "lr-2e-4" trained on 32 rows and exported to a verified
/// model.onnx, "lr-5e-5" on 16 rows without one),
/// a sweep folder with a leaderboard, and damaged or half-written folders written file by file. The dashboard app
/// runs on Kestrel on a free loopback port until the test process ends.
/// </summary>
public sealed class DashboardRuns
{
    public const string Exported = "lr-2e-4";
    public const string NotExported = "lr-5e-5";
    private static readonly Lazy<DashboardRuns> Instance = new(() => new DashboardRuns());
    private readonly WebApplication _app;

    public static DashboardRuns Get => Instance.Value;

    public string Root { get; }
    public string Outside { get; }
    public HttpClient Http { get; }
    public string Url { get; }

    public static string Sample => Path.Combine(AppContext.BaseDirectory, "data", "sentiment-sample.tsv");

    private DashboardRuns()
    {
        string temp = Directory.CreateTempSubdirectory("mlnetbert-dashboard-").FullName;
        Root = Path.Combine(temp, "runs");
        Outside = Path.Combine(temp, "outside");
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Outside);
        File.WriteAllText(Path.Combine(Outside, "secret.json"), "{\"secret\": true}");
        File.WriteAllText(Path.Combine(Outside, "run.json"), "{\"status\": \"completed\", \"task\": \"secret\"}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Train(Exported, 2e-4, export: true, rows: 32);
        Train(NotExported, 5e-5, export: false, rows: 16);
        Console.WriteLine($"two runs trained in {clock.Elapsed.TotalSeconds:F1} s");
        _app = DashboardApp.Build(new DashboardOptions { RunsRoot = Root, Urls = "http://127.0.0.1:0" }, ["--Logging:LogLevel:Default=Warning"]);
        _app.StartAsync().GetAwaiter().GetResult();
        Url = _app.Urls.First();
        Http = new HttpClient { BaseAddress = new Uri(Url) };
    }

    /// <summary>Validation rows of each run.</summary>
    public const int ValidRows = 32;

    private void Train(string name, double learningRate, bool export, int rows) =>
        BertRun.Train(new BertRunRequest(new TabularReadOptions(Sample) { MaxRows = rows })
        {
            Valid = new TabularReadOptions(Sample) { MaxRows = ValidRows },
            Out = Path.Combine(Root, name),
            ExportOnnx = export,
            Options = new BertTrainingOptions { Epochs = 1, BatchSize = 8, MaxSequenceLength = 32, LearningRate = learningRate, Seed = 3 },
        });

    /// <summary>A folder under the root, written file by file (created empty first).</summary>
    public string Folder(string relative, params (string Name, string Text)[] files)
    {
        string dir = Path.Combine(Root, relative);
        Directory.CreateDirectory(dir);
        foreach (var (file, text) in files)
            File.WriteAllText(Path.Combine(dir, file), text);
        return dir;
    }

    public async Task<JsonObject> Json(string path)
    {
        using var response = await Http.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.IsTrue(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {body}");
        return (JsonObject)JsonNode.Parse(body)!;
    }

    public async Task<(int Status, JsonObject? Body)> Post(string path, object body)
    {
        using var response = await Http.PostAsJsonAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text) as JsonObject);
    }

    public static JsonObject Metrics(string run) =>
        (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Get.Root, run, RunFolder.MetricsJsonName)))!;
}
