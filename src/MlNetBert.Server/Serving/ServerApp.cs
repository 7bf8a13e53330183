using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MlNetBert.Serving;

/// <summary>
/// The model server: an ASP.NET Core minimal API over one exported model. Routes: <c>POST /v1/predict</c>,
/// <c>GET /v1/model</c>, <c>GET /healthz</c>, <c>GET /readyz</c>, <c>GET /metrics</c>, <c>GET /openapi.json</c>.
/// Every error is <c>{"error": {"code": ..., "message": ...}}</c> with the status in <see cref="ErrorCodes"/>.
/// </summary>
/// <example>
/// <code>
/// await using var app = ServerApp.Build(new ServerOptions { ModelPath = "model.onnx", Urls = "http://127.0.0.1:0" });
/// await app.StartAsync();
/// Console.WriteLine(app.Urls.First());      // the port Kestrel picked
/// // ... POST {"inputs": ["a fine film"]} to /v1/predict ...
/// await app.StopAsync();                    // finishes in-flight requests first
/// </code>
/// </example>
public static class ServerApp
{
    /// <summary>The route template of the prediction endpoint.</summary>
    public const string PredictRoute = "/v1/predict";

    /// <summary>
    /// Validates <paramref name="options"/>, loads the model and returns the configured, not yet started application.
    /// The application owns the model: disposing it waits for queued predictions, then frees the ONNX Runtime session.
    /// </summary>
    /// <param name="options">The model and the server's settings.</param>
    /// <param name="args">ASP.NET Core configuration arguments (for example <c>--Logging:LogLevel:Default=Warning</c>); may be null.</param>
    /// <exception cref="BadInputException">An invalid option, or a model file that is missing or not an MlNetBert model.</exception>
    public static WebApplication Build(ServerOptions options, string[]? args = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        // The slim builder leaves out what a single-purpose server does not use (HTTPS setup, EventLog); the content
        // root is the program's folder so an appsettings.json in the caller's working directory is not picked up.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls([.. options.UrlList()]);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            kestrel.AddServerHeader = false;
        });
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);

        var startupLog = new List<string>();
        var served = ServedModel.Load(options, startupLog.Add);
        try
        {
            builder.Services.AddSingleton(options);
            // Registered through factories so the container owns them and disposes them when the app is disposed:
            // the runner first (it drains its queue), then the model.
            builder.Services.AddSingleton(_ => served);
            builder.Services.AddSingleton<ServerMetrics>();
            builder.Services.AddSingleton<Readiness>();
            builder.Services.AddSingleton<IPredictionRunner>(services =>
            {
                var metrics = services.GetRequiredService<ServerMetrics>();
                var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("MlNetBert.Serving");
                return options.Batching
                    ? new MicroBatcher(served.Model, options, metrics, logger)
                    : new DirectRunner(served.Model, metrics, options.MaxBatchSize);
            });
            builder.Services.AddSingleton<PredictEndpoint>();
            builder.Services.AddHostedService<Warmup>();

            var app = builder.Build();
            foreach (var line in startupLog)
                app.Logger.LogWarning("{Message}", line);
            Configure(app, served, options);
            return app;
        }
        catch
        {
            served.Dispose();
            throw;
        }
    }

    private static void Configure(WebApplication app, ServedModel served, ServerOptions options)
    {
        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        var readiness = app.Services.GetRequiredService<Readiness>();
        var predict = app.Services.GetRequiredService<PredictEndpoint>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MlNetBert.Serving");
        string openApi = OpenApiDocument.Render(served, options);

        app.Lifetime.ApplicationStopping.Register(readiness.MarkStopping);
        app.Lifetime.ApplicationStarted.Register(() => logger.LogInformation(
            "serving {Name} ({Task}, version {Version}) from {Path} on {Urls}; micro-batching {Batching}",
            served.Name, served.Model.Task, served.Version, options.ModelPath, string.Join(", ", app.Urls),
            options.Batching ? $"on (max batch {options.MaxBatchSize}, max wait {options.MaxWaitMs} ms)" : "off"));

        app.Use(async (context, next) =>
        {
            long started = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
                // Routing answers unknown paths and methods with an empty 404/405; give them the JSON error shape too.
                if (!context.Response.HasStarted && context.Response.StatusCode == StatusCodes.Status404NotFound)
                    await WriteErrorAsync(context, ErrorCodes.NotFound, $"no route {context.Request.Path} (see GET /openapi.json)");
                else if (!context.Response.HasStarted && context.Response.StatusCode == StatusCodes.Status405MethodNotAllowed)
                    await WriteErrorAsync(context, ErrorCodes.MethodNotAllowed, $"{context.Request.Method} is not allowed on {context.Request.Path} (allowed: {context.Response.Headers.Allow})");
            }
            catch (ApiException ex) when (!context.Response.HasStarted)
            {
                await WriteErrorAsync(context, ex.Code, ex.Message);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away; nothing to answer. 499 is the usual log code for it.
                context.Response.StatusCode = 499;
            }
            catch (Exception ex) when (!context.Response.HasStarted)
            {
                logger.LogError(ex, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
                await WriteErrorAsync(context, ErrorCodes.Internal, $"the server failed to answer ({ex.GetType().Name}); the fault is logged");
            }
            finally
            {
                // Route templates, not raw paths, label the series, so unknown paths cannot grow them without bound.
                string route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
                metrics.RecordRequest(route, context.Response.StatusCode);
                if (route == PredictRoute)
                    metrics.RecordPredictLatency(Stopwatch.GetElapsedTime(started));
            }
        });

        app.MapPost(PredictRoute, predict.HandleAsync);
        app.MapGet("/v1/model", context => JsonResponse.WriteAsync(context, StatusCodes.Status200OK, json => served.WriteCard(json, options)));
        app.MapGet("/healthz", context => WriteStatusAsync(context, StatusCodes.Status200OK, "ok"));
        app.MapGet("/readyz", context => WriteStatusAsync(context,
            readiness.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable, readiness.State));
        app.MapGet("/metrics", async context =>
        {
            context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await context.Response.WriteAsync(metrics.Render(), context.RequestAborted);
        });
        app.MapGet("/openapi.json", async context =>
        {
            context.Response.ContentType = JsonResponse.ContentType;
            await context.Response.WriteAsync(openApi, context.RequestAborted);
        });

        Task WriteErrorAsync(HttpContext context, string code, string message)
        {
            metrics.RecordError(code);
            return JsonResponse.WriteErrorAsync(context, code, message);
        }
    }

    private static Task WriteStatusAsync(HttpContext context, int status, string state) =>
        JsonResponse.WriteAsync(context, status, json =>
        {
            json.WriteStartObject();
            json.WriteString("status", state);
            json.WriteEndObject();
        });
}

/// <summary>What <c>/readyz</c> reports: <c>warming_up</c> until the warm-up prediction ran, then <c>ready</c>; <c>stopping</c> once shutdown began.</summary>
internal sealed class Readiness
{
    private volatile string _state = "warming_up";

    public string State => _state;

    public bool IsReady => _state == "ready";

    public void MarkReady() => Interlocked.CompareExchange(ref _state, "ready", "warming_up");

    public void MarkFailed() => Interlocked.CompareExchange(ref _state, "failed", "warming_up");

    public void MarkStopping() => _state = "stopping";
}

/// <summary>Runs one prediction through the same path requests take, so the first client does not pay for ONNX Runtime's first-call setup.</summary>
internal sealed class Warmup(IPredictionRunner runner, ServedModel served, Readiness readiness, ILogger<Warmup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string[] text = ["A warm-up sentence: the quick brown fox jumps over the lazy dog."];
        try
        {
            await runner.PredictAsync(text, served.IsPair ? text : null, stoppingToken);
            readiness.MarkReady();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // A model that cannot predict one sentence will not predict requests either: stay unready, say why.
            readiness.MarkFailed();
            logger.LogError(ex, "warm-up prediction failed; /readyz answers 503 \"failed\"");
        }
    }
}
