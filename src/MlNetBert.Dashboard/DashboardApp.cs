using System.Reflection;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using MlNetBert.Inference;
using MlNetBert.Runs;
using MlNetBert.Serving;

namespace MlNetBert.Dashboard;

/// <summary>How <c>mlnetbert ui</c> runs.</summary>
public sealed record DashboardOptions
{
    /// <summary>The runs folder to show. Default: <c>models/runs</c> under the current directory (<see cref="RunFolder.DefaultRoot"/>).</summary>
    public string RunsRoot { get; init; } = RunFolder.DefaultRoot;

    /// <summary>Where to listen, ';'-separated. Loopback only (the dashboard has no authentication); port 0 picks a free port.</summary>
    public string Urls { get; init; } = "http://127.0.0.1:5100";

    /// <summary>Throws <see cref="BadInputException"/> for an address that is not http:// on loopback.</summary>
    public void Validate()
    {
        var urls = Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (urls.Length == 0)
            throw new BadInputException("--urls is empty: expected for example http://127.0.0.1:5100");
        foreach (var url in urls)
        {
            if (!url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.Length == "http://".Length)
                throw new BadInputException($"--urls: '{url}' is not an http:// address (expected for example http://127.0.0.1:5100)");
            if (!ServerOptions.IsLoopback(url))
                throw new BadInputException($"--urls: refusing to listen on {url}: the dashboard has no authentication and listens on loopback only (127.0.0.1, localhost or [::1])");
        }
    }
}

/// <summary>
/// The dashboard: a read-only ASP.NET Core app over a runs folder. One page (<c>/</c>, plain HTML and JavaScript
/// embedded in this assembly, charts by uPlot, also embedded) and the JSON it reads:
/// <list type="table">
/// <item><term><c>GET /api/runs</c></term><description>every run (status, task, checkpoint, data, key metric, duration, live progress) and sweep</description></item>
/// <item><term><c>GET /api/run?id=</c></term><description>one run: run.json, metrics.json, parity.json, progress, the analysis report, each with the problem that kept it from being read</description></item>
/// <item><term><c>GET /api/run/log?id=</c></term><description>log.csv's steps and the validation metric per epoch</description></item>
/// <item><term><c>GET /api/run/file?id=&amp;name=</c></term><description>a picture or report of the run (curves.png, analysis/*.png, analysis.md)</description></item>
/// <item><term><c>GET /api/run/snippets?id=</c></term><description>consume code filled with the run's paths, columns and labels</description></item>
/// <item><term><c>POST /api/run/predict?id=</c></term><description><c>{"text", "text2"}</c> answered by the run's model.onnx</description></item>
/// <item><term><c>GET /api/sweep?id=</c></term><description>a sweep's leaderboard</description></item>
/// </list>
/// An id that names nothing inside the runs folder is 404, whatever it contains (<c>..</c>, absolute paths, links out).
/// </summary>
/// <example>
/// <code>
/// await using var app = DashboardApp.Build(new DashboardOptions { RunsRoot = "models/runs", Urls = "http://127.0.0.1:0" });
/// await app.StartAsync();
/// Console.WriteLine(app.Urls.First());
/// </code>
/// </example>
public static class DashboardApp
{
    private const int MaxTextChars = 20_000;

    /// <summary>The pictures and reports a run page may show, by extension.</summary>
    private static readonly Dictionary<string, string> FileTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".png"] = "image/png",
        [".md"] = "text/markdown; charset=utf-8",
        [".json"] = "application/json",
        [".csv"] = "text/csv; charset=utf-8",
    };

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Builds the app (not started).</summary>
    /// <exception cref="BadInputException">An address beyond loopback, or not http://.</exception>
    public static WebApplication Build(DashboardOptions options, string[]? args = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 1 << 20;
        });
        builder.Services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        });
        builder.Services.AddSingleton(new RunCatalog(options.RunsRoot));
        builder.Services.AddSingleton<TryItModels>();
        var app = builder.Build();
        Map(app);
        return app;
    }

    private static void Map(WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            // A local tool's pages: nothing framed, no scripts from anywhere else.
            context.Response.Headers["X-Content-Type-Options"] = "nosniff";
            context.Response.Headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";
            await next(context);
        });
        app.MapGet("/", () => Asset("index.html"));
        app.MapGet("/assets/{name}", (string name) => Asset(name));

        app.MapGet("/api/runs", (RunCatalog catalog) => Results.Json(catalog.List(), Json));
        app.MapGet("/api/run", (string? id, RunCatalog catalog, TryItModels models) =>
            catalog.Find(id) is { } run ? Results.Json(RunDetails.Read(catalog, run, models), Json) : NotFound(id));
        app.MapGet("/api/run/log", (string? id, RunCatalog catalog) =>
            catalog.Find(id) is { } run ? Results.Json(RunDetails.Log(run), Json) : NotFound(id));
        app.MapGet("/api/run/file", (string? id, string? name, RunCatalog catalog) =>
        {
            if (catalog.Find(id) is not { } run || RunDetails.FindFile(run, name) is not { } path)
                return NotFound(id);
            return Results.File(path, FileTypes[Path.GetExtension(path)]);
        });
        app.MapGet("/api/run/snippets", (string? id, RunCatalog catalog, TryItModels models) =>
        {
            if (catalog.Find(id) is not { } run)
                return NotFound(id);
            try
            {
                var card = RunDetails.Card(run, models);
                return card is null
                    ? Problem(409, "no model card: the run has neither model.onnx nor a readable run.json task")
                    : Results.Json(ConsumeSnippets.For(run, card), Json);
            }
            catch (BadInputException e)
            {
                return Problem(409, e.Message);
            }
        });
        app.MapPost("/api/run/predict", async (string? id, HttpRequest request, RunCatalog catalog, TryItModels models) =>
        {
            if (catalog.Find(id) is not { } run)
                return NotFound(id);
            JsonObject? body;
            try
            {
                body = await JsonNode.ParseAsync(request.Body) as JsonObject;
            }
            catch (JsonException e)
            {
                return Problem(400, "the body is not JSON: " + e.Message);
            }
            if (body?["text"] is not JsonValue t || !t.TryGetValue(out string? text) || string.IsNullOrWhiteSpace(text))
                return Problem(400, "'text' is required: a non-empty string");
            string? text2 = body["text2"] is JsonValue t2 && t2.TryGetValue(out string? s2) ? s2 : null;
            if (text.Length > MaxTextChars || text2?.Length > MaxTextChars)
                return Problem(400, $"a text is longer than {MaxTextChars} characters");
            try
            {
                return Results.Json(models.Predict(run, text, text2), Json);
            }
            catch (BadInputException e)
            {
                return Problem(409, e.Message);
            }
        });
        app.MapGet("/api/sweep", (string? id, RunCatalog catalog) =>
            catalog.FindSweep(id) is { } dir ? Results.Json(SweepReader.Read(catalog, dir), Json) : NotFound(id));
        app.MapFallback(() => Results.NotFound());
    }

    private static IResult NotFound(string? id) =>
        Results.Json(new { error = "not found", id }, Json, statusCode: StatusCodes.Status404NotFound);

    private static IResult Problem(int status, string message) => Results.Json(new { error = message }, Json, statusCode: status);

    private static readonly Assembly Self = typeof(DashboardApp).Assembly;

    /// <summary>An embedded page, script, style sheet or licence; only names that exist in the assembly.</summary>
    private static IResult Asset(string name)
    {
        var stream = Self.GetManifestResourceStream("dashboard/" + name);
        if (stream is null)
            return Results.NotFound();
        string type = Path.GetExtension(name) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => "text/plain; charset=utf-8",
        };
        return Results.Stream(stream, type);
    }
}
