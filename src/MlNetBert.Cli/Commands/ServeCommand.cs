using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using MlNetBert.Runs;
using MlNetBert.Serving;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert serve</c>: an HTTP server for one exported model, until Ctrl+C or SIGTERM.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new ServerOptions { ModelPath = "" };
        var model = new Option<string[]>("--model")
        {
            Description = "An exported .onnx file or a run folder (served under the file or folder name), or NAME=PATH. Repeat to serve several; the first also answers /v1/predict.",
            Required = true,
        };
        var urls = new Option<string>("--urls") { Description = "Addresses to listen on, ';'-separated; loopback unless you say otherwise.", DefaultValueFactory = _ => defaults.Urls };
        var provider = new Option<string>("--provider") { Description = "cpu | cuda (falls back to CPU with a log line when CUDA is unavailable).", DefaultValueFactory = _ => defaults.Provider };
        var maxBatch = new Option<int>("--max-batch-size") { Description = "Most inputs gathered into one model call.", DefaultValueFactory = _ => defaults.MaxBatchSize };
        var maxWait = new Option<int>("--max-wait-ms") { Description = "Longest wait for a batch to fill, in milliseconds.", DefaultValueFactory = _ => defaults.MaxWaitMs };
        var threads = new Option<int?>("--threads") { Description = "ONNX Runtime threads per model call (default: one per physical core)." };
        var maxInputs = new Option<int>("--max-inputs") { Description = "Most inputs per request (more: 422).", DefaultValueFactory = _ => defaults.MaxInputs };
        var maxChars = new Option<int>("--max-text-chars") { Description = "Longest text or text2, in characters.", DefaultValueFactory = _ => defaults.MaxTextChars };
        var longText = new Option<string>("--long-text") { Description = "truncate (cut and mark \"truncated\": true) | reject (422).", DefaultValueFactory = _ => "truncate" };
        var maxBody = new Option<long>("--max-body-bytes") { Description = "Largest request body (more: 413).", DefaultValueFactory = _ => defaults.MaxBodyBytes };
        var noBatching = new Option<bool>("--no-batching") { Description = "One model call per request instead of dynamic micro-batching." };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "Require one of the keys in FILE (one per line) as 'Authorization: Bearer KEY' or 'X-Api-Key: KEY'; /healthz and /readyz stay open." };
        var allowAnonymous = new Option<bool>("--allow-anonymous") { Description = "Listen beyond loopback without an API key (refused otherwise)." };
        var rateLimit = new Option<string?>("--rate-limit") { Description = "Most requests per second to /v1 routes, all clients together, as N/s (more: 429 with Retry-After)." };
        var requestTimeout = new Option<string>("--request-timeout") { Description = "Longest time a request may take, e.g. 30s or 500ms, or off (slower: 504).", DefaultValueFactory = _ => "30s" };
        provider.AcceptOnlyFromAmong("cpu", "cuda");
        longText.AcceptOnlyFromAmong("truncate", "reject");
        var command = new Command("serve",
            """
            Serve exported models over HTTP: POST /v1/predict {"inputs": ["text", ...]} (the first model),
            POST /v1/models/NAME/predict, GET /v1/model, /v1/models, /healthz, /readyz, /metrics (Prometheus) and
            /openapi.json. Errors are RFC 9457 problem details with a 'code'. Concurrent requests are micro-batched into
            one model call. Beyond loopback it needs --api-key-file (or --allow-anonymous). Ctrl+C or SIGTERM stops it
            after the requests in flight are answered.

            Example:
              mlnetbert serve --model sentiment=sentiment.onnx --model sts=sts.onnx --urls http://127.0.0.1:8080
              curl -s localhost:8080/v1/predict -H 'Content-Type: application/json' -d '{"inputs": ["A fine film."]}'
            """)
        {
            model, urls, provider, maxBatch, maxWait, threads, maxInputs, maxChars, longText, maxBody, noBatching, apiKeyFile, allowAnonymous, rateLimit, requestTimeout,
        };
        command.SetAction(parse =>
        {
            // A run folder serves its model.onnx under the folder's name (unless name=path gives one).
            var models = parse.GetValue(model)!.Select(ModelSource.Parse)
                .Select(m => new ModelSource(
                    m.Name ?? (Directory.Exists(m.Path) ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(m.Path))) : null),
                    RunFolder.ResolveModelOnnx(m.Path)))
                .ToList();
            var options = new ServerOptions
            {
                ModelPath = models[0].Path,
                ModelName = models[0].Name,
                AdditionalModels = models[1..],
                Urls = parse.GetValue(urls)!,
                Provider = parse.GetValue(provider)!,
                MaxBatchSize = parse.GetValue(maxBatch),
                MaxWaitMs = parse.GetValue(maxWait),
                Threads = parse.GetValue(threads),
                MaxInputs = parse.GetValue(maxInputs),
                MaxTextChars = parse.GetValue(maxChars),
                LongText = parse.GetValue(longText) == "reject" ? LongTextPolicy.Reject : LongTextPolicy.Truncate,
                MaxBodyBytes = parse.GetValue(maxBody),
                Batching = !parse.GetValue(noBatching),
                ApiKeyFile = parse.GetValue(apiKeyFile),
                AllowAnonymous = parse.GetValue(allowAnonymous),
                RateLimitPerSecond = parse.GetValue(rateLimit) is { } limit ? ServerOptions.ParseRateLimit(limit) : null,
                RequestTimeout = ServerOptions.ParseTimeout(parse.GetValue(requestTimeout)!),
            };
            using var app = ServerApp.Build(options);
            try
            {
                app.Start();
            }
            catch (IOException ex)
            {
                // Kestrel reports a taken port or an unknown host as an IOException: the user's --urls, not our fault.
                throw new BadInputException($"--urls {options.Urls}: cannot listen there ({ex.Message})", ex);
            }
            // The host's console lifetime turns Ctrl+C and SIGTERM into a graceful stop; this returns after it.
            app.WaitForShutdown();
            return ExitCodes.Success;
        });
        return command;
    }
}
