using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MlNetBert.Serving;

/// <summary>
/// The model server: an ASP.NET Core minimal API over one or more exported models, built from ASP.NET Core's own
/// parts: problem details for every error (<see cref="ErrorCodes"/>), health checks at <c>/healthz</c> and
/// <c>/readyz</c>, <see cref="System.Diagnostics.Metrics"/> instruments served to Prometheus at <c>/metrics</c>, an
/// OpenAPI document generated from the typed endpoints at <c>/openapi.json</c>, and, when asked, API-key
/// authentication, a rate limiter and request timeouts.
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
    /// <summary>The route template of the default model's prediction endpoint.</summary>
    public const string PredictRoute = "/v1/predict";

    /// <summary>The route template of a named model's prediction endpoint.</summary>
    public const string ModelPredictRoute = "/v1/models/{name}/predict";

    private const string RateLimitPolicy = "v1";
    private const string RouteKey = "mlnetbert.route";

    /// <summary>
    /// Validates <paramref name="options"/>, loads the models and returns the configured, not yet started application.
    /// The application owns the models: disposing it waits for queued predictions, then frees the ONNX Runtime sessions.
    /// </summary>
    /// <param name="options">The models and the server's settings.</param>
    /// <param name="args">ASP.NET Core configuration arguments (for example <c>--Logging:LogLevel:Default=Warning</c>); may be null.</param>
    /// <exception cref="BadInputException">
    /// An invalid option, an unreadable API key file, a model file that is missing or not an MlNetBert model, or an
    /// address beyond loopback without an API key (unless <see cref="ServerOptions.AllowAnonymous"/>).
    /// </exception>
    public static WebApplication Build(ServerOptions options, string[]? args = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var keys = options.ApiKeyFile is null ? null : ApiKeys.Load(options.ApiKeyFile);
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
        // The health-check service logs every result that is not healthy; "warming_up" and "stopping" are expected
        // states (Degraded) and would flood the log while a probe polls. "failed" (Unhealthy) still logs as an error.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService", LogLevel.Error);

        var startupLog = new List<string>();
        var models = ServedModels.Load(options, startupLog.Add);
        try
        {
            AddServices(builder.Services, options, models, keys);
            var app = builder.Build();
            foreach (var line in startupLog)
                app.Logger.LogWarning("{Message}", line);
            Configure(app, options, keys is not null);
            return app;
        }
        catch
        {
            foreach (var served in models)
                served.Dispose();
            throw;
        }
    }

    private static void AddServices(IServiceCollection services, ServerOptions options, List<ServedModel> models, ApiKeys? keys)
    {
        services.AddSingleton(options);
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<PrometheusExport>();
        // A factory, so the container owns the models and disposes them with the app (runners drain first).
        services.AddSingleton(provider => ServedModels.Start(models, options, provider.GetRequiredService<ServerMetrics>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger("MlNetBert.Serving")));
        services.AddSingleton<Readiness>();
        services.AddSingleton<PredictEndpoint>();
        services.AddHostedService<Warmup>();

        services.ConfigureHttpJsonOptions(json =>
        {
            // The wire names the API has always had (max_length, project_version); labels, as dictionary keys, stay as they are.
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            // Relaxed escaping keeps non-ASCII labels readable; bodies are served as JSON, never as HTML.
            json.SerializerOptions.Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
            // Numbers are numbers: the web default also reads them from strings, and the OpenAPI schemas would say so.
            json.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        services.AddProblemDetails(problems => problems.CustomizeProblemDetails = context =>
            Problems.Customize(context, context.HttpContext.RequestServices.GetRequiredService<ServerMetrics>()));
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.AddHealthChecks().AddCheck<ReadinessCheck>(ReadinessCheck.Name, tags: [ReadinessCheck.Name]);
        services.AddOpenApi(openApi => ServerOpenApi.Configure(openApi, options, models[0], keys is not null));

        if (keys is not null)
        {
            services.AddSingleton(keys);
            services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
                .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
            // Every endpoint needs the key unless it says otherwise (the health endpoints do), unknown paths included,
            // so a client without a key learns nothing about the routes.
            services.AddAuthorization(authorization => authorization.FallbackPolicy =
                new AuthorizationPolicyBuilder(ApiKeyAuthenticationHandler.SchemeName).RequireAuthenticatedUser().Build());
        }
        if (options.RateLimitPerSecond is int perSecond)
        {
            services.AddRateLimiter(limiter =>
            {
                limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
                // One bucket for all clients: the limit protects the server's capacity, which they share. It starts
                // full, so a burst of up to one second's worth passes, and refills by the second.
                limiter.AddTokenBucketLimiter(RateLimitPolicy, bucket =>
                {
                    bucket.TokenLimit = perSecond;
                    bucket.TokensPerPeriod = perSecond;
                    bucket.ReplenishmentPeriod = TimeSpan.FromSeconds(1);
                    bucket.QueueLimit = 0;
                    bucket.AutoReplenishment = true;
                });
                limiter.OnRejected = (context, _) =>
                {
                    // The body is written by status code pages, as for every other status without one.
                    var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                    context.HttpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                    return ValueTask.CompletedTask;
                };
            });
        }
        if (options.RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            // 504: the request ran out of the time this server gives it (a gateway's word, but the one ASP.NET Core
            // and proxies use for it). Status code pages writes the problem body.
            services.AddRequestTimeouts(timeouts => timeouts.DefaultPolicy = new RequestTimeoutPolicy
            {
                Timeout = options.RequestTimeout,
                TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
            });
        }
    }

    private static void Configure(WebApplication app, ServerOptions options, bool authentication)
    {
        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        var models = app.Services.GetRequiredService<ServedModels>();
        var readiness = app.Services.GetRequiredService<Readiness>();
        var predict = app.Services.GetRequiredService<PredictEndpoint>();
        var prometheus = app.Services.GetRequiredService<PrometheusExport>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MlNetBert.Serving");

        app.Lifetime.ApplicationStopping.Register(readiness.MarkStopping);
        app.Lifetime.ApplicationStarted.Register(() => logger.LogInformation(
            "serving {Models} on {Urls}; micro-batching {Batching}; API key {Auth}; rate limit {Rate}; request timeout {Timeout}",
            string.Join(", ", models.All.Select(m => $"{m.Served.Name} ({m.Served.Model.Task}, version {m.Served.Version})")),
            string.Join(", ", app.Urls),
            options.Batching ? $"on (max batch {options.MaxBatchSize}, max wait {options.MaxWaitMs} ms)" : "off",
            authentication ? "required" : "not required",
            options.RateLimitPerSecond is int r ? $"{r}/s" : "none",
            options.RequestTimeout == Timeout.InfiniteTimeSpan ? "none" : $"{options.RequestTimeout.TotalSeconds:0.###} s"));

        // Outermost, so it counts every answer with its final status, whichever part wrote it.
        app.Use(async (context, next) =>
        {
            long started = Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                // Route templates, not raw paths, label the series, so unknown paths cannot grow them without bound.
                string route = context.Items[RouteKey] as string ?? "unmatched";
                metrics.RecordRequest(route, context.Response.StatusCode);
                if (route is PredictRoute or ModelPredictRoute)
                    metrics.RecordPredictLatency(Stopwatch.GetElapsedTime(started));
            }
        });
        app.UseExceptionHandler(new ExceptionHandlerOptions { AllowStatusCode404Response = true });
        // Routing's 404 and 405, the authentication challenge, the rate limiter and the request timeout set only a
        // status; status code pages gives each the problem body (Problems.Customize adds the code).
        app.UseStatusCodePages();
        app.UseRouting();
        app.Use((context, next) =>
        {
            // Remembered here because the exception handler clears the endpoint before the outer middleware reads it.
            if (context.GetEndpoint() is RouteEndpoint endpoint)
                context.Items[RouteKey] = endpoint.RoutePattern.RawText;
            return next(context);
        });
        if (authentication)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }
        if (options.RateLimitPerSecond is not null)
            app.UseRateLimiter();
        if (options.RequestTimeout != Timeout.InfiniteTimeSpan)
            app.UseRequestTimeouts();

        // Typed as a Func, not a RequestDelegate, so the returned Ok<PredictResponse> is written and documented.
        Func<HttpContext, Task<Ok<PredictResponse>>> predictDefault = context => predict.HandleAsync(context, models.Default);
        var v1 = new List<RouteHandlerBuilder>
        {
            app.MapPost(PredictRoute, predictDefault)
                .WithSummary("Predict a batch of inputs with the default (first) model; outputs come back one per input, in order.")
                .Accepts<PredictRequestBody>("application/json")
                .ProducesProblem(400).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422).ProducesProblem(500).ProducesProblem(503),
            app.MapPost(ModelPredictRoute, (HttpContext context, string name) => predict.HandleAsync(context, Find(models, name)))
                .WithSummary("Predict a batch of inputs with the named model.")
                .Accepts<PredictRequestBody>("application/json")
                .ProducesProblem(400).ProducesProblem(404).ProducesProblem(413).ProducesProblem(415).ProducesProblem(422).ProducesProblem(500).ProducesProblem(503),
            app.MapGet("/v1/model", () => TypedResults.Ok(models.Default.Served.Card(options)))
                .WithSummary("The default model's card: task, labels, max length, checkpoint, training metrics, limits."),
            app.MapGet("/v1/models", () => TypedResults.Ok(new ModelList([.. models.All.Select(m => m.Served.Card(options))])))
                .WithSummary("Every served model's card, the default (first) model first."),
            app.MapGet("/v1/models/{name}", (string name) => TypedResults.Ok(Find(models, name).Served.Card(options)))
                .WithSummary("The named model's card.")
                .ProducesProblem(404),
        };
        foreach (var endpoint in v1)
        {
            endpoint.WithTags("models");
            if (authentication)
                endpoint.ProducesProblem(401);
            if (options.RateLimitPerSecond is not null)
                endpoint.RequireRateLimiting(RateLimitPolicy).ProducesProblem(429);
            if (options.RequestTimeout != Timeout.InfiniteTimeSpan)
                endpoint.ProducesProblem(504);
        }

        // Health checks answer GET and HEAD only (anything else: 405), and need no key.
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = (context, _) => WriteStatusAsync(context, "ok") })
            .WithMetadata(new HttpMethodMetadata(["GET", "HEAD"])).AllowAnonymous();
        app.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadinessCheck.Name),
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status503ServiceUnavailable,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
            ResponseWriter = (context, report) => WriteStatusAsync(context, report.Entries[ReadinessCheck.Name].Description ?? readiness.State),
        }).WithMetadata(new HttpMethodMetadata(["GET", "HEAD"])).AllowAnonymous();
        prometheus.Map(app, "/metrics");
        app.MapOpenApi("/openapi.json");
    }

    private static ModelEntry Find(ServedModels models, string name) =>
        models.Find(name) ?? throw new ApiException(ErrorCodes.UnknownModel,
            $"no model named '{name}' is served here (served: {string.Join(", ", models.All.Select(m => m.Served.Name))}; see GET /v1/models)");

    private static Task WriteStatusAsync(HttpContext context, string state) =>
        context.Response.WriteAsJsonAsync(new HealthStatusBody(state), context.RequestAborted);
}

/// <summary>The body of <c>/healthz</c> and <c>/readyz</c>: <c>{"status": "ok" | "ready" | "warming_up" | "stopping" | "failed"}</c>.</summary>
internal sealed record HealthStatusBody(string Status);

/// <summary>The <c>/readyz</c> check: healthy once every model's warm-up prediction ran, with the state as its description.</summary>
internal sealed class ReadinessCheck(Readiness readiness) : IHealthCheck
{
    public const string Name = "ready";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(readiness.IsReady ? HealthCheckResult.Healthy(readiness.State)
            : readiness.State == "failed" ? HealthCheckResult.Unhealthy(readiness.State)
            : HealthCheckResult.Degraded(readiness.State));
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

/// <summary>Runs one prediction per model through the same path requests take, so the first client does not pay for ONNX Runtime's first-call setup.</summary>
internal sealed class Warmup(ServedModels models, Readiness readiness, ILogger<Warmup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string[] text = ["A warm-up sentence: the quick brown fox jumps over the lazy dog."];
        foreach (var entry in models.All)
        {
            try
            {
                await entry.Runner.PredictAsync(text, entry.Served.IsPair ? text : null, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A model that cannot predict one sentence will not predict requests either: stay unready, say why.
                readiness.MarkFailed();
                logger.LogError(ex, "warm-up prediction of {Model} failed; /readyz answers 503 \"failed\"", entry.Served.Name);
                return;
            }
        }
        readiness.MarkReady();
    }
}
