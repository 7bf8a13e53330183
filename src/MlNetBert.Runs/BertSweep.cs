using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using MlNetBert.Export;
using MlNetBert.Training;

namespace MlNetBert.Runs;

/// <summary>One configuration of a sweep.</summary>
/// <param name="Name">The trial's folder name under the sweep folder (e.g. <c>learning-rate=1e-4_batch-size=16</c>).</param>
/// <param name="Options">The options that vary between trials, by name, as shown in sweep.json and summarised over seeds (a <c>seed</c> entry groups trials).</param>
/// <param name="Request">The run; its <see cref="BertRunRequest.Out"/> is replaced by the trial's folder.</param>
public sealed record SweepTrial(string Name, IReadOnlyList<KeyValuePair<string, string>> Options, BertRunRequest Request);

/// <summary>How a sweep runs its trials.</summary>
public sealed record SweepOptions
{
    /// <summary>Stop starting new trials after this long (trials already started finish). Default (null): no limit.</summary>
    public TimeSpan? TimeBudget { get; init; }
}

/// <summary>A trial's line in the leaderboard.</summary>
/// <param name="Name">The trial's name.</param>
/// <param name="Options">Its varying options.</param>
/// <param name="Status"><c>done</c>, or <c>not started</c> (time budget used).</param>
/// <param name="Metric">The validation metric's name (accuracy or spearman), when done.</param>
/// <param name="Value">The validation metric, when done and the run had validation rows.</param>
/// <param name="TrainingSeconds">Training time, when done.</param>
/// <param name="RunDirectory">The trial's run folder, when done.</param>
/// <param name="Best">True for the best trial (exported to ONNX).</param>
public sealed record SweepTrialResult(string Name, IReadOnlyList<KeyValuePair<string, string>> Options, string Status, string? Metric = null,
    double? Value = null, double? TrainingSeconds = null, string? RunDirectory = null, bool Best = false);

/// <summary>Configurations that differ only in the seed: the validation metric over seeds.</summary>
/// <param name="Config">The shared options (<c>default</c> when only the seed varies).</param>
/// <param name="Metric">The metric's name.</param>
/// <param name="Seeds">How many seeds finished.</param>
/// <param name="Mean">Mean of the metric.</param>
/// <param name="Sd">Sample standard deviation; null for one seed.</param>
/// <param name="Min">Smallest value.</param>
/// <param name="Max">Largest value.</param>
/// <param name="MeanTrainingSeconds">Mean training time.</param>
public sealed record SweepSeedSummary(string Config, string Metric, int Seeds, double Mean, double? Sd, double Min, double Max, double MeanTrainingSeconds);

/// <summary>A sweep's outcome, also written to sweep.json and sweep.md.</summary>
/// <param name="Trials">Every trial, best first.</param>
/// <param name="OverSeeds">Summaries over seeds, best mean first; empty when no trial sets a seed.</param>
/// <param name="Markdown">The leaderboard (and the table over seeds) as sweep.md holds it, without its heading.</param>
public sealed record SweepResult(IReadOnlyList<SweepTrialResult> Trials, IReadOnlyList<SweepSeedSummary> OverSeeds, string Markdown);

/// <summary>Something a sweep reports while it works.</summary>
public abstract record SweepProgress;

/// <summary>A trial finished in an earlier sweep (run.json completed) and is not run again.</summary>
/// <param name="Trial">The trial's name.</param>
public sealed record SweepTrialSkipped(string Trial) : SweepProgress;

/// <summary>A trial was not started because the time budget is used.</summary>
/// <param name="Trial">The trial's name.</param>
/// <param name="Budget">The budget.</param>
public sealed record SweepTrialNotStarted(string Trial, TimeSpan Budget) : SweepProgress;

/// <summary>A trial starts training (an unfinished folder from an earlier sweep is replaced).</summary>
/// <param name="Trial">The trial's name.</param>
public sealed record SweepTrialStarting(string Trial) : SweepProgress;

/// <summary>What the running trial reports.</summary>
/// <param name="Trial">The trial's name.</param>
/// <param name="Run">The run's own report.</param>
public sealed record SweepTrialProgress(string Trial, RunProgress Run) : SweepProgress;

/// <summary>A trial finished in this sweep.</summary>
/// <param name="Trial">The trial's name.</param>
/// <param name="Result">Its run.</param>
public sealed record SweepTrialFinished(string Trial, BertRunResult Result) : SweepProgress;

/// <summary>The best trial was exported to ONNX.</summary>
/// <param name="ModelOnnx">The file written.</param>
/// <param name="Parity">How it compared with the trained model.</param>
public sealed record SweepBestExported(string ModelOnnx, ParityReport Parity) : SweepProgress;

/// <summary>
/// Several training runs ranked by their validation metric. Each trial is an ordinary run folder under the sweep
/// folder; trials that completed in an earlier sweep are skipped, unfinished ones start over; the best trial gets a
/// verified model.onnx; sweep.json and sweep.md hold the leaderboard.
/// </summary>
public static class BertSweep
{
    /// <summary>Runs <paramref name="trials"/> into <paramref name="sweepDirectory"/>, in order.</summary>
    /// <exception cref="RunInterruptedException">Cancelled during a trial (that trial is resumable when it saved state).</exception>
    public static SweepResult Run(string sweepDirectory, IEnumerable<SweepTrial> trials, SweepOptions? options = null,
        IProgress<SweepProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        string dir = Path.GetFullPath(sweepDirectory);
        Directory.CreateDirectory(dir);
        var clock = Stopwatch.StartNew();
        var rows = new List<SweepTrialResult>();
        foreach (var trial in trials)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var run = RunFolder.At(Path.Combine(dir, trial.Name));
            if (IsCompleted(run))
            {
                progress?.Report(new SweepTrialSkipped(trial.Name));
            }
            else if (options?.TimeBudget is { } budget && clock.Elapsed > budget)
            {
                progress?.Report(new SweepTrialNotStarted(trial.Name, budget));
                rows.Add(new SweepTrialResult(trial.Name, trial.Options, "not started"));
                continue;
            }
            else
            {
                if (Directory.Exists(run.Path))
                    Directory.Delete(run.Path, recursive: true); // an interrupted trial starts over
                progress?.Report(new SweepTrialStarting(trial.Name));
                var forward = progress is null ? null : new Forward(p => progress.Report(new SweepTrialProgress(trial.Name, p)));
                var result = BertRun.Train(trial.Request with { Out = run.Path }, forward, cancellationToken);
                progress?.Report(new SweepTrialFinished(trial.Name, result));
            }
            rows.Add(Done(trial, run));
        }
        cancellationToken.ThrowIfCancellationRequested();
        var ranked = rows.OrderByDescending(r => r.Value ?? double.NegativeInfinity).ToList();
        int best = ranked.FindIndex(r => r.Value is not null);
        if (best >= 0)
        {
            ranked[best] = ranked[best] with { Best = true };
            if (ExportBest(RunFolder.At(ranked[best].RunDirectory!)) is { } parity)
                progress?.Report(new SweepBestExported(RunFolder.At(ranked[best].RunDirectory!).ModelOnnx, parity));
        }
        var groups = OverSeeds(rows);
        var sweepJson = new JsonObject { ["trials"] = new JsonArray(ranked.Select(r => (JsonNode)ToJson(r)).ToArray()) };
        if (groups.Count > 0)
            sweepJson["over_seeds"] = new JsonArray(groups.Select(g => (JsonNode)ToJson(g)).ToArray());
        RunMetrics.Write(Path.Combine(dir, "sweep.json"), sweepJson);
        string table = Leaderboard(ranked);
        if (groups.Count > 0)
            table += "\n" + SeedTable(groups);
        AtomicFile.WriteAllText(Path.Combine(dir, "sweep.md"), "# Sweep\n\n" + table);
        return new SweepResult(ranked, groups, table);
    }

    /// <summary>
    /// Summarises trials that differ in their <c>seed</c> option: for each configuration of the other options, the
    /// mean, sample standard deviation, min and max of the validation metric, and mean training time; best mean first.
    /// Trials without a value (not started) are left out; no seed option, no summary.
    /// </summary>
    public static IReadOnlyList<SweepSeedSummary> OverSeeds(IReadOnlyList<SweepTrialResult> trials)
    {
        var done = trials.Where(r => r.Value is not null).ToList();
        if (!done.Any(r => r.Options.Any(kv => kv.Key == "seed")))
            return [];
        static string Key(SweepTrialResult row) => string.Join("_", row.Options.Where(kv => kv.Key != "seed").Select(kv => kv.Key + "=" + kv.Value));
        var groups = new List<SweepSeedSummary>();
        foreach (var g in done.GroupBy(Key))
        {
            var values = g.Select(r => r.Value!.Value).ToArray();
            double mean = values.Average();
            double? sd = values.Length > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1)) : null;
            groups.Add(new SweepSeedSummary(g.Key.Length == 0 ? "default" : g.Key, g.First().Metric!, values.Length, mean, sd,
                values.Min(), values.Max(), g.Average(r => r.TrainingSeconds ?? 0)));
        }
        return groups.OrderByDescending(g => g.Mean).ToList();
    }

    // A trial folder from before run.json had a status counts as finished when it has metrics.json, as it always did.
    private static bool IsCompleted(RunFolder run)
    {
        if (!File.Exists(run.MetricsJson))
            return false;
        try
        {
            return !File.Exists(run.RunJson) || run.ReadInfo().Status == RunStatus.Completed;
        }
        catch (BadInputException)
        {
            return false;
        }
    }

    private static SweepTrialResult Done(SweepTrial trial, RunFolder run)
    {
        var metrics = JsonNode.Parse(File.ReadAllText(run.MetricsJson))!;
        string metric = metrics["validation_metric"]!.GetValue<string>();
        string key = metric == "accuracy" ? "accuracy" : "spearman";
        return new SweepTrialResult(trial.Name, trial.Options, "done", metric, metrics["final"]![key]?.GetValue<double>(),
            metrics["training_seconds"]!.GetValue<double>(), run.Path);
    }

    /// <summary>Gives the best trial a verified model.onnx (and parity.json), unless it has one from an earlier sweep.</summary>
    private static ParityReport? ExportBest(RunFolder run)
    {
        if (File.Exists(run.ModelOnnx))
            return null;
        using var model = BertTaskModel.Load(run.ModelZip);
        var parity = TrainedModelExport.Export(model, run.ModelOnnx, []);
        ParityFile.Write(run, parity, "built-in sample");
        return parity;
    }

    private static JsonObject ToJson(SweepTrialResult r)
    {
        var json = new JsonObject
        {
            ["trial"] = r.Name,
            ["options"] = new JsonObject(r.Options.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["status"] = r.Status,
        };
        if (r.Status == "done")
        {
            json["metric"] = r.Metric;
            json["value"] = r.Value;
            json["training_seconds"] = r.TrainingSeconds;
            json["run"] = r.RunDirectory;
        }
        if (r.Best)
            json["best"] = true;
        return json;
    }

    private static JsonObject ToJson(SweepSeedSummary g) => new()
    {
        ["config"] = g.Config,
        ["metric"] = g.Metric,
        ["seeds"] = g.Seeds,
        ["mean"] = g.Mean,
        ["sd"] = g.Sd,
        ["min"] = g.Min,
        ["max"] = g.Max,
        ["mean_training_seconds"] = g.MeanTrainingSeconds,
    };

    private static string Leaderboard(List<SweepTrialResult> ranked)
    {
        var sb = new StringBuilder("| rank | trial | metric | value | training s | status |\n|---|---|---|---|---|---|\n");
        int rank = 0;
        foreach (var r in ranked)
        {
            rank++;
            string value = r.Value is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "";
            string mark = r.Best ? " **best**" : "";
            string seconds = r.TrainingSeconds is { } s ? JsonValue.Create(s).ToJsonString() : "";
            sb.Append(CultureInfo.InvariantCulture, $"| {rank} | {r.Name}{mark} | {r.Metric} | {value} | {seconds} | {r.Status} |\n");
        }
        return sb.ToString();
    }

    private static string SeedTable(IReadOnlyList<SweepSeedSummary> groups)
    {
        var sb = new StringBuilder("Over seeds:\n\n| configuration | metric | seeds | mean | sd | min | max | mean training s |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
        foreach (var g in groups)
        {
            static string F(double? v) => v is { } x ? x.ToString("F4", CultureInfo.InvariantCulture) : "";
            sb.Append(CultureInfo.InvariantCulture,
                $"| {g.Config} | {g.Metric} | {g.Seeds} | {F(g.Mean)} | {F(g.Sd)} | {F(g.Min)} | {F(g.Max)} | {g.MeanTrainingSeconds:F1} |\n");
        }
        return sb.ToString();
    }

    private sealed class Forward(Action<RunProgress> report) : IProgress<RunProgress>
    {
        public void Report(RunProgress value) => report(value);
    }
}
