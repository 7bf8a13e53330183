using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MlNetBert.Cli.Commands;

/// <summary>
/// <c>mlnetbert sweep</c>: a grid (comma lists) or seeded random trials (ranges lo:hi) over training options. Each trial
/// is an ordinary run folder; finished trials are skipped when the sweep is run again; a leaderboard is printed and
/// written to sweep.json and sweep.md.
/// </summary>
internal static class SweepCommand
{
    private static readonly string[] Swept = ["--learning-rate", "--batch-size", "--epochs", "--freeze", "--pooling", "--warmup-ratio", "--weight-decay", "--reinit-top-layers", "--average-last", "--seed"];

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Sweep folder: one run folder per trial, plus sweep.json and sweep.md.", Required = true };
        var trials = new Option<int?>("--trials") { Description = "Sample N trials (ranges lo:hi; learning rates log-uniform) instead of the full grid." };
        var budget = new Option<string?>("--time-budget") { Description = "Stop starting new trials after this long (e.g. 30m, 2h, 90s)." };
        var sweepSeed = new Option<int>("--sweep-seed") { Description = "Seed for sampling trials.", DefaultValueFactory = _ => 1 };
        var exportAll = new Option<bool>("--export-all") { Description = "Export every trial to ONNX (default: only the best trial gets model.onnx)." };
        var command = new Command("sweep",
            """
            Try several training configurations and rank them by the validation metric. Options listed with commas form a
            grid; lo:hi ranges are sampled with --trials. Every other option is passed to 'train' unchanged. Each trial
            keeps its model.zip; the best one is also exported to a verified model.onnx (every trial with --export-all).

            Examples:
              mlnetbert sweep --out models/sweeps/sst2 --train sst2/train.tsv --valid sst2/dev.tsv --max-rows 2000 \
                --learning-rate 1e-5,2e-5,5e-5 --batch-size 16,32 --epochs 2,3 --freeze none,bottom:3
              mlnetbert sweep --out models/sweeps/lr --train sst2/train.tsv --max-rows 2000 --learning-rate 1e-5:1e-4 --trials 6 --time-budget 30m
            """)
        {
            output, trials, budget, sweepSeed, exportAll,
        };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(parse =>
        {
            string dir = Path.GetFullPath(parse.GetValue(output)!);
            var passthrough = parse.UnmatchedTokens.ToList();
            var (fixedArgs, axes) = SplitAxes(passthrough);
            if (!fixedArgs.Contains("--train"))
                throw new BadInputException("sweep needs --train FILE (and any other 'train' options)");
            var configs = parse.GetValue(trials) is int n ? Sample(axes, n, parse.GetValue(sweepSeed)) : Grid(axes);
            TimeSpan? limit = parse.GetValue(budget) is { } b ? ParseDuration(b) : null;
            Directory.CreateDirectory(dir);
            var clock = Stopwatch.StartNew();
            var rows = new List<JsonObject>();
            foreach (var config in configs)
            {
                string name = string.Join("_", config.Select(kv => kv.Key.TrimStart('-') + "=" + kv.Value)).Replace(':', '-');
                if (name.Length == 0)
                    name = "default";
                string runDir = Path.Combine(dir, name);
                var row = new JsonObject { ["trial"] = name, ["options"] = new JsonObject(config.Select(kv => KeyValuePair.Create(kv.Key.TrimStart('-'), (JsonNode?)kv.Value))) };
                if (File.Exists(Path.Combine(runDir, "metrics.json")))
                {
                    Console.WriteLine($"trial {name}: finished earlier, skipped");
                }
                else if (limit is { } l && clock.Elapsed > l)
                {
                    Console.WriteLine($"trial {name}: not started (time budget of {l} used)");
                    row["status"] = "not started";
                    rows.Add(row);
                    continue;
                }
                else
                {
                    if (Directory.Exists(runDir))
                        Directory.Delete(runDir, recursive: true); // an interrupted trial starts over
                    Console.WriteLine($"trial {name}: training");
                    var args = fixedArgs.Concat(config.SelectMany(kv => new[] { kv.Key, kv.Value })).Concat(["--out", runDir]);
                    if (!parse.GetValue(exportAll) && !fixedArgs.Contains("--no-export"))
                        args = args.Append("--no-export");
                    int code = TrainCommand.Create().Parse(args.ToArray()).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
                    if (code is ExitCodes.Interrupted or ExitCodes.Terminated)
                        return code;
                    if (code != 0)
                    {
                        row["status"] = $"failed (exit {code})";
                        rows.Add(row);
                        continue;
                    }
                }
                var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "metrics.json")))!;
                row["status"] = "done";
                row["metric"] = metrics["validation_metric"]!.GetValue<string>();
                var final = metrics["final"]!;
                string key = row["metric"]!.GetValue<string>() == "accuracy" ? "accuracy" : "spearman";
                row["value"] = final[key]?.GetValue<double>();
                row["training_seconds"] = metrics["training_seconds"]!.GetValue<double>();
                row["run"] = runDir;
                rows.Add(row);
            }
            var ranked = rows.OrderByDescending(r => r["value"]?.GetValue<double>() ?? double.NegativeInfinity).ToList();
            if (ranked.FirstOrDefault(r => r["value"] is not null) is { } best)
            {
                best["best"] = true;
                ExportBest(best["run"]!.GetValue<string>());
            }
            var groups = OverSeeds(rows);
            var sweepJson = new JsonObject { ["trials"] = new JsonArray(ranked.Select(r => (JsonNode)r.DeepClone()).ToArray()) };
            if (groups.Count > 0)
                sweepJson["over_seeds"] = new JsonArray(groups.Select(g => (JsonNode)g.DeepClone()).ToArray());
            AtomicFile.WriteAllText(Path.Combine(dir, "sweep.json"), sweepJson.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            string table = Leaderboard(ranked);
            if (groups.Count > 0)
                table += "\n" + SeedTable(groups);
            AtomicFile.WriteAllText(Path.Combine(dir, "sweep.md"), "# Sweep\n\n" + table);
            Console.WriteLine();
            Console.WriteLine(table);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Gives the best trial a verified model.onnx (and parity.json), unless it has one from an earlier sweep.</summary>
    private static void ExportBest(string runDir)
    {
        string onnx = Path.Combine(runDir, "model.onnx");
        if (File.Exists(onnx))
            return;
        using var model = MlNetBert.Training.BertTaskModel.Load(Path.Combine(runDir, "model.zip"));
        var parity = MlNetBert.Export.TrainedModelExport.Export(model, onnx, []);
        ExportCommand.WriteParityJson(runDir, parity, "built-in sample");
        Console.WriteLine($"best trial exported to {onnx}: {parity}");
    }

    private static string Leaderboard(List<JsonObject> ranked)
    {
        var sb = new StringBuilder("| rank | trial | metric | value | training s | status |\n|---|---|---|---|---|---|\n");
        int rank = 0;
        foreach (var r in ranked)
        {
            rank++;
            string value = r["value"] is { } v ? v.GetValue<double>().ToString("F4", CultureInfo.InvariantCulture) : "";
            string mark = r["best"] is not null ? " **best**" : "";
            sb.Append(CultureInfo.InvariantCulture, $"| {rank} | {r["trial"]}{mark} | {r["metric"]} | {value} | {r["training_seconds"]} | {r["status"]} |\n");
        }
        return sb.ToString();
    }

    // When trials differ in --seed, the configurations they share are summarised over seeds: mean, sample standard
    // deviation, min and max of the validation metric, and mean training time; best mean first.
    internal static List<JsonObject> OverSeeds(List<JsonObject> rows)
    {
        var done = rows.Where(r => r["value"] is not null).ToList();
        if (!done.Any(r => r["options"]!.AsObject().ContainsKey("seed")))
            return [];
        static string Key(JsonObject row) => string.Join("_", row["options"]!.AsObject().Where(kv => kv.Key != "seed").Select(kv => kv.Key + "=" + kv.Value));
        var groups = new List<JsonObject>();
        foreach (var g in done.GroupBy(Key))
        {
            var values = g.Select(r => r["value"]!.GetValue<double>()).ToArray();
            double mean = values.Average();
            double sd = values.Length > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1)) : double.NaN;
            groups.Add(new JsonObject
            {
                ["config"] = g.Key.Length == 0 ? "default" : g.Key,
                ["metric"] = g.First()["metric"]!.GetValue<string>(),
                ["seeds"] = values.Length,
                ["mean"] = mean,
                ["sd"] = double.IsNaN(sd) ? null : sd,
                ["min"] = values.Min(),
                ["max"] = values.Max(),
                ["mean_training_seconds"] = g.Average(r => r["training_seconds"]!.GetValue<double>()),
            });
        }
        return groups.OrderByDescending(g => g["mean"]!.GetValue<double>()).ToList();
    }

    private static string SeedTable(List<JsonObject> groups)
    {
        var sb = new StringBuilder("Over seeds:\n\n| configuration | metric | seeds | mean | sd | min | max | mean training s |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
        foreach (var g in groups)
        {
            string F(string key) => g[key] is { } v ? v.GetValue<double>().ToString("F4", CultureInfo.InvariantCulture) : "";
            sb.Append(CultureInfo.InvariantCulture,
                $"| {g["config"]} | {g["metric"]} | {g["seeds"]} | {F("mean")} | {F("sd")} | {F("min")} | {F("max")} | {g["mean_training_seconds"]!.GetValue<double>():F1} |\n");
        }
        return sb.ToString();
    }

    private static (List<string> Fixed, List<(string Option, string[] Values)> Axes) SplitAxes(List<string> tokens)
    {
        var fixedArgs = new List<string>();
        var axes = new List<(string, string[])>();
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (Swept.Contains(t) && i + 1 < tokens.Count && (tokens[i + 1].Contains(',') || tokens[i + 1].Contains(':') && t != "--freeze"))
            {
                axes.Add((t, tokens[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries)));
                i++;
            }
            else
            {
                fixedArgs.Add(t);
            }
        }
        return (fixedArgs, axes);
    }

    private static IEnumerable<List<KeyValuePair<string, string>>> Grid(List<(string Option, string[] Values)> axes)
    {
        if (axes.Any(a => a.Values.Any(v => v.Contains(':') && a.Option != "--freeze")))
            throw new BadInputException("ranges (lo:hi) need --trials N; use comma lists for a grid");
        IEnumerable<List<KeyValuePair<string, string>>> configs = [[]];
        foreach (var (option, values) in axes)
            configs = configs.SelectMany(c => values.Select(v => new List<KeyValuePair<string, string>>(c) { KeyValuePair.Create(option, v) })).ToList();
        return configs;
    }

    private static IEnumerable<List<KeyValuePair<string, string>>> Sample(List<(string Option, string[] Values)> axes, int trials, int seed)
    {
        if (trials < 1)
            throw new BadInputException($"--trials must be at least 1, not {trials}");
        var rng = new Random(seed);
        for (int t = 0; t < trials; t++)
        {
            var config = new List<KeyValuePair<string, string>>();
            foreach (var (option, values) in axes)
            {
                string pick = values[rng.Next(values.Length)];
                if (pick.Contains(':') && option != "--freeze")
                {
                    var parts = pick.Split(':');
                    double lo = double.Parse(parts[0], CultureInfo.InvariantCulture), hi = double.Parse(parts[1], CultureInfo.InvariantCulture);
                    double x = option == "--learning-rate"
                        ? Math.Exp(Math.Log(lo) + rng.NextDouble() * (Math.Log(hi) - Math.Log(lo)))
                        : lo + rng.NextDouble() * (hi - lo);
                    pick = option is "--batch-size" or "--epochs" or "--seed"
                        ? Math.Round(x).ToString(CultureInfo.InvariantCulture)
                        : x.ToString("G3", CultureInfo.InvariantCulture);
                }
                config.Add(KeyValuePair.Create(option, pick));
            }
            yield return config;
        }
    }

    internal static TimeSpan ParseDuration(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        double value;
        if (t.EndsWith('h') && double.TryParse(t[..^1], CultureInfo.InvariantCulture, out value))
            return TimeSpan.FromHours(value);
        if (t.EndsWith('m') && double.TryParse(t[..^1], CultureInfo.InvariantCulture, out value))
            return TimeSpan.FromMinutes(value);
        if (t.EndsWith('s') && double.TryParse(t[..^1], CultureInfo.InvariantCulture, out value))
            return TimeSpan.FromSeconds(value);
        throw new BadInputException($"--time-budget '{text}' is not a duration (examples: 90s, 30m, 2h)");
    }
}
