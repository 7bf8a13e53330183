using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using MlNetBert.Dashboard;
using MlNetBert.Runs;

namespace MlNetBert.Cli.Commands;

/// <summary><c>mlnetbert bench ui</c>: how long the dashboard's runs list takes over many run folders.</summary>
internal static class UiBench
{
    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "A real run folder to copy (its run.json, metrics.json, log.csv).", Required = true };
        var runs = new Option<int>("--runs") { Description = "Run folders to create (one in ten shown as running, with progress.json).", DefaultValueFactory = _ => 200 };
        var requests = new Option<int>("--requests") { Description = "Measured requests of each kind.", DefaultValueFactory = _ => 30 };
        var command = new Command("ui",
            """
            Time to answer GET /api/runs (the runs page) over N run folders copied from a real one, on loopback, against
            the baseline of reading the same run.json and metrics.json files with no parsing, in the same process.

            Example:
              mlnetbert bench ui --from models/runs/my-run --runs 200
            """)
        {
            from, runs, requests,
        };
        command.SetAction(parse => Measure(parse.GetValue(from)!, parse.GetValue(runs), parse.GetValue(requests)).GetAwaiter().GetResult());
        return command;
    }

    private static async Task<int> Measure(string fromPath, int count, int n)
    {
        var template = RunFolder.Open(fromPath);
        string root = Directory.CreateTempSubdirectory("mlnetbert-bench-ui-").FullName;
        try
        {
            Populate(template, root, count);
            await using var app = DashboardApp.Build(new DashboardOptions { RunsRoot = root, Urls = "http://127.0.0.1:0" }, ["--Logging:LogLevel:Default=Warning"]);
            await app.StartAsync();
            using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
            int listed = JsonNode.Parse(await http.GetStringAsync("/api/runs"))!["runs"]!.AsArray().Count;   // warm-up
            var page = new List<double>();
            var raw = new List<double>();
            long bytes = 0;
            for (int i = 0; i < n; i++)
            {
                var clock = Stopwatch.StartNew();
                await http.GetStringAsync("/api/runs");
                page.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                foreach (string dir in Directory.EnumerateDirectories(root))
                    bytes += File.ReadAllText(Path.Combine(dir, RunFolder.RunJsonName)).Length + File.ReadAllText(Path.Combine(dir, RunFolder.MetricsJsonName)).Length;
                raw.Add(clock.Elapsed.TotalMilliseconds);
            }
            double p = Median(page), r = Median(raw);
            Console.WriteLine($"{listed} run folders listed; GET /api/runs median {p:F1} ms (max {page.Max():F1}), reading run.json + metrics.json alone ({bytes / n / 1000} kB) median {r:F1} ms: x{p / r:F2} of the raw reads");
            return ExitCodes.Success;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void Populate(RunFolder template, string root, int count)
    {
        for (int i = 0; i < count; i++)
        {
            string dir = Path.Combine(root, $"run-{i:D4}");
            Directory.CreateDirectory(dir);
            foreach (string name in new[] { RunFolder.RunJsonName, RunFolder.MetricsJsonName, RunFolder.LogCsvName })
                if (File.Exists(template.File(name)))
                    File.Copy(template.File(name), Path.Combine(dir, name));
            File.WriteAllText(Path.Combine(dir, RunFolder.ModelZipName), "");   // present, as in a completed run (not read by the list)
            if (i % 10 == 0)
            {
                // A run in progress: its own process, a progress.json.
                var json = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(dir, RunFolder.RunJsonName)))!;
                json["status"] = "running";
                json["pid"] = Environment.ProcessId;
                File.WriteAllText(Path.Combine(dir, RunFolder.RunJsonName), json.ToJsonString());
                File.WriteAllText(Path.Combine(dir, RunFolder.ProgressJsonName), """{"epoch": 1, "epochs": 3, "step": 40, "total_steps": 120, "loss": 0.5, "elapsed_seconds": 60, "remaining_seconds": 120, "epochs_done": []}""");
            }
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
