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
        var model = new Option<string>("--model") { Description = "An exported .onnx file, or a run folder (its model.onnx; served under the folder's name).", Required = true };
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
        provider.AcceptOnlyFromAmong("cpu", "cuda");
        longText.AcceptOnlyFromAmong("truncate", "reject");
        var command = new Command("serve",
            """
            Serve an exported model over HTTP: POST /v1/predict {"inputs": ["text", ...]}, GET /v1/model, /healthz, /readyz,
            /metrics (Prometheus) and /openapi.json. Concurrent requests are micro-batched into one model call. Ctrl+C or
            SIGTERM stops it after the requests in flight are answered.

            Example:
              mlnetbert serve --model sentiment.onnx --urls http://127.0.0.1:8080
              curl -s localhost:8080/v1/predict -H 'Content-Type: application/json' -d '{"inputs": ["A fine film."]}'
            """)
        {
            model, urls, provider, maxBatch, maxWait, threads, maxInputs, maxChars, longText, maxBody, noBatching,
        };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!;
            var options = new ServerOptions
            {
                ModelPath = RunFolder.ResolveModelOnnx(modelPath),
                // A run folder serves under the folder's name rather than "model".
                ModelName = Directory.Exists(modelPath) ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelPath))) : null,
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
