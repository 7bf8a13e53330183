using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Inference;
using MlNetBert.Serving;
using MlNetBert.Serving.Load;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert bench serve</c>: the HTTP server under the same closed-loop load, micro-batching off (the baseline) and on.</summary>
internal static class ServeBench
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "An exported model.onnx.", Required = true };
        var requests = new Option<int>("--requests") { Description = "Measured requests per configuration.", DefaultValueFactory = _ => 2000 };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once.", DefaultValueFactory = _ => 32 };
        var inputs = new Option<int>("--inputs-per-request") { Description = "Sentences in each request.", DefaultValueFactory = _ => 1 };
        var warmup = new Option<int>("--warmup") { Description = "Unmeasured requests first, per configuration.", DefaultValueFactory = _ => 200 };
        var threads = new Option<int?>("--threads") { Description = "ONNX Runtime threads per model call (default: one per physical core)." };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file." };
        var soak = new Option<bool>("--soak")
        {
            Description = "Soak instead of comparing: micro-batching on only, one request in 50 malformed (must get a 4xx problem body); "
                + "exits 1 unless there are no errors and the working set grew at most 20% after warm-up.",
        };
        var command = new Command("serve",
            """
            Requests per second, latency and processor time per request of 'mlnetbert serve' on loopback, under the same
            load with micro-batching off (one model call per request, the baseline) and on. Each configuration starts
            its own server in this process; processor time counts the server and the load generator.

            Example:
              mlnetbert bench serve --model sentiment.onnx --requests 2000 --concurrency 32
              mlnetbert bench serve --model sentiment.onnx --requests 20000 --concurrency 32 --soak
            """)
        {
            model, requests, concurrency, inputs, warmup, threads, json, soak,
        };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(model)!;
            int n = parse.GetValue(requests), c = parse.GetValue(concurrency);
            if (n < 1 || c < 1 || parse.GetValue(inputs) < 1 || parse.GetValue(warmup) < 0)
                throw new BadInputException("--requests, --concurrency and --inputs-per-request must be at least 1, --warmup at least 0");
            bool pair;
            using (var probe = BertOnnxModel.Load(path))
                pair = probe.TaskDefinition.ReadsPair;
            var bodies = ServeLoadTest.Bodies(ServeLoadTest.SampleSentences, pair, parse.GetValue(inputs));
            Console.WriteLine($"{path}: {n} requests of {parse.GetValue(inputs)} input(s), concurrency {c}, {Environment.ProcessorCount} processors");
            var results = new JsonObject { ["model"] = path, ["requests"] = n, ["concurrency"] = c, ["inputs_per_request"] = parse.GetValue(inputs) };
            if (parse.GetValue(soak))
                return Soak(new ServerOptions { ModelPath = path, Threads = parse.GetValue(threads) }, bodies, n, c, parse.GetValue(warmup), results, parse.GetValue(json));
            double? baseline = null;
            foreach (var (name, batching) in new[] { ("batching off", false), ("batching on", true) })
            {
                var options = new ServerOptions { ModelPath = path, Batching = batching, Threads = parse.GetValue(threads) };
                var r = ServeLoadTest.MeasureAsync(options, bodies, n, c, parse.GetValue(warmup)).GetAwaiter().GetResult();
                baseline ??= r.RequestsPerSecond;
                Console.WriteLine($"{name,-13} {r}  x{r.RequestsPerSecond / baseline.Value:F2}");
                if (r.Errors > 0)
                    Console.WriteLine($"  first error: {r.FirstError}");
                results[name.Replace(' ', '_')] = new JsonObject
                {
                    ["requests_per_second"] = Math.Round(r.RequestsPerSecond, 1),
                    ["ratio_to_batching_off"] = Math.Round(r.RequestsPerSecond / baseline.Value, 3),
                    ["p50_ms"] = Math.Round(r.P50.TotalMilliseconds, 2),
                    ["p99_ms"] = Math.Round(r.P99.TotalMilliseconds, 2),
                    ["cpu_ms_per_request"] = Math.Round(r.CpuMillisecondsPerRequest, 2),
                    ["errors"] = r.Errors,
                };
            }
            if (parse.GetValue(json) is { } file)
                AtomicFile.WriteAllText(file, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            return ExitCodes.Success;
        });
        return command;
    }

    private static int Soak(ServerOptions options, IReadOnlyList<string> bodies, int n, int c, int warmup, JsonObject results, string? json)
    {
        const int malformedEvery = 50;
        var r = ServeLoadTest.MeasureAsync(options, bodies, n, c, warmup, malformedEvery).GetAwaiter().GetResult();
        Console.WriteLine($"soak          {r}");
        Console.WriteLine($"  malformed requests: {r.Malformed}, each answered 4xx problem details unless counted in the errors");
        Console.WriteLine($"  working set after warm-up {r.WorkingSetAfterWarmup / 1048576.0:F0} MiB, after the run {r.WorkingSetAfterRun / 1048576.0:F0} MiB ({100 * r.WorkingSetGrowth:+0.0;-0.0}%)");
        if (r.Errors > 0)
            Console.WriteLine($"  first error: {r.FirstError}");
        results["soak"] = new JsonObject
        {
            ["requests_per_second"] = Math.Round(r.RequestsPerSecond, 1),
            ["p50_ms"] = Math.Round(r.P50.TotalMilliseconds, 2),
            ["p99_ms"] = Math.Round(r.P99.TotalMilliseconds, 2),
            ["errors"] = r.Errors,
            ["malformed"] = r.Malformed,
            ["working_set_after_warmup_mib"] = Math.Round(r.WorkingSetAfterWarmup / 1048576.0, 1),
            ["working_set_after_run_mib"] = Math.Round(r.WorkingSetAfterRun / 1048576.0, 1),
            ["working_set_growth"] = Math.Round(r.WorkingSetGrowth, 4),
        };
        if (json is not null)
            AtomicFile.WriteAllText(json, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        bool passed = r.Errors == 0 && r.WorkingSetGrowth <= 0.2;
        Console.WriteLine(passed ? "soak passed" : "soak FAILED: expected no errors and at most 20% working-set growth");
        return passed ? ExitCodes.Success : ExitCodes.InternalError;
    }
}
