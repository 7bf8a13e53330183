using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlNetBert.Runs;

namespace MlNetBert.Dashboard;

/// <summary>
/// The run folders under one root, as the dashboard lists them: every folder with a <c>run.json</c> (at the root or
/// inside a sweep folder) and every sweep (a folder with <c>sweep.json</c>, or whose sub-folders are runs). Nothing is
/// cached: each call reads the files as they are, so a run in progress shows its latest step. A damaged file makes
/// its run show as damaged, with the reason, and never fails the listing.
/// </summary>
/// <remarks>
/// A run is named by its id, its path relative to the root with '/' separators (<c>20261202-101500</c>,
/// <c>lr-sweep/learning-rate=1e-4</c>). <see cref="Find"/> turns an id back into a folder only when it names a run
/// folder inside the root; anything else (<c>..</c>, an absolute path, a symbolic link out of the root) is not found.
/// </remarks>
public sealed class RunCatalog
{
    /// <summary>How deep under the root runs are looked for (root/sweep/trial is depth 2).</summary>
    private const int MaxDepth = 3;

    /// <summary>A catalog over <paramref name="root"/> (which need not exist yet).</summary>
    public RunCatalog(string root) => Root = Path.GetFullPath(root);

    /// <summary>The runs folder, as a full path.</summary>
    public string Root { get; }

    /// <summary>Every run under the root, newest first, and every sweep.</summary>
    public RunListing List()
    {
        var runs = new List<RunSummary>();
        var sweeps = new List<SweepSummary>();
        if (Directory.Exists(Root))
            Scan(Root, 0, runs, sweeps);
        return new RunListing(Root, runs.OrderByDescending(r => r.Modified).ToList(), sweeps.OrderBy(s => s.Id, StringComparer.Ordinal).ToList());
    }

    /// <summary>The run folder that <paramref name="id"/> names, or null when it names nothing inside the root that has a run.json.</summary>
    public RunFolder? Find(string? id)
    {
        string? dir = Resolve(id);
        return dir is not null && File.Exists(Path.Combine(dir, RunFolder.RunJsonName)) ? RunFolder.At(dir) : null;
    }

    /// <summary>The sweep folder that <paramref name="id"/> names, or null.</summary>
    public string? FindSweep(string? id)
    {
        string? dir = Resolve(id);
        return dir is not null && IsSweep(dir) ? dir : null;
    }

    /// <summary>The id of a folder under the root.</summary>
    public string IdOf(string dir) => Path.GetRelativePath(Root, dir).Replace(Path.DirectorySeparatorChar, '/');

    // An id is relative path segments of ordinary names: no '..', no empty segment, no rooted path, and the folder it
    // names must resolve (links followed) to a place inside the root.
    private string? Resolve(string? id)
    {
        if (string.IsNullOrWhiteSpace(id) || id.Length > 400 || Path.IsPathRooted(id) || id.Contains('\\') || id.Contains('\0'))
            return null;
        string[] parts = id.Split('/');
        if (parts.Length > MaxDepth || parts.Any(p => p.Length == 0 || p == "." || p == ".."))
            return null;
        string dir = Path.GetFullPath(Path.Combine([Root, .. parts]));
        if (!Directory.Exists(dir) || !IsInside(dir))
            return null;
        return dir;
    }

    private bool IsInside(string dir)
    {
        string real = RealPath(dir);
        string root = RealPath(Root);
        return real.StartsWith(root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    private static string RealPath(string dir)
    {
        // Resolves every link along the path, so root/x -> /elsewhere is seen for what it is.
        var info = new DirectoryInfo(dir);
        var parts = new Stack<string>();
        while (info is not null)
        {
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                return Path.Combine([RealPath(target.FullName), .. parts]);
            if (info.Parent is null)
                return Path.Combine([info.FullName, .. parts]);
            parts.Push(info.Name);
            info = info.Parent;
        }
        return dir;
    }

    private static bool IsSweep(string dir) =>
        File.Exists(Path.Combine(dir, "sweep.json"))
        || (!File.Exists(Path.Combine(dir, RunFolder.RunJsonName)) && SubFolders(dir).Any(d => File.Exists(Path.Combine(d, RunFolder.RunJsonName))));

    private static IEnumerable<string> SubFolders(string dir)
    {
        try
        {
            // A link is not followed: it could lead out of the runs folder.
            return new DirectoryInfo(dir).EnumerateDirectories().Where(d => d.LinkTarget is null).Select(d => d.FullName).Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private void Scan(string dir, int depth, List<RunSummary> runs, List<SweepSummary> sweeps)
    {
        foreach (string sub in SubFolders(dir))
        {
            if (File.Exists(Path.Combine(sub, RunFolder.RunJsonName)))
            {
                runs.Add(RunReader.Summary(RunFolder.At(sub), IdOf(sub), depth == 0 ? null : IdOf(dir)));
            }
            else if (depth + 1 < MaxDepth)
            {
                bool sweep = IsSweep(sub);
                int before = runs.Count;
                Scan(sub, depth + 1, runs, sweeps);
                if (sweep)
                    sweeps.Add(SweepReader.Summary(sub, IdOf(sub), runs.Skip(before).ToList()));
            }
        }
    }
}

/// <summary>What <c>GET /api/runs</c> answers.</summary>
/// <param name="Root">The runs folder.</param>
/// <param name="Runs">Every run, newest first.</param>
/// <param name="Sweeps">Every sweep.</param>
public sealed record RunListing(string Root, IReadOnlyList<RunSummary> Runs, IReadOnlyList<SweepSummary> Sweeps);

/// <summary>One run's line in the runs list.</summary>
/// <param name="Id">Its path under the root, '/'-separated.</param>
/// <param name="Sweep">The sweep it belongs to (its folder's id), or null.</param>
/// <param name="Status"><c>running</c>, <c>completed</c>, <c>interrupted</c>, <c>failed</c>, <c>stalled</c> (run.json says running but its process is gone) or <c>damaged</c>.</param>
/// <param name="Problem">Why it failed, stalled or is damaged, in words; null when all is well.</param>
/// <param name="Task">The task's name.</param>
/// <param name="Checkpoint">The pretrained checkpoint.</param>
/// <param name="TrainFile">The training data's file name.</param>
/// <param name="Metric">The validation metric's name (accuracy, spearman, f1, ...).</param>
/// <param name="Value">Its final value, when known.</param>
/// <param name="DurationSeconds">Training time (elapsed so far for a running run).</param>
/// <param name="Progress">Where a running run stands, from progress.json; null otherwise.</param>
/// <param name="Modified">When run.json was last written.</param>
/// <param name="HasOnnx">Whether the folder has model.onnx (try-it needs it).</param>
public sealed record RunSummary(string Id, string? Sweep, string Status, string? Problem, string? Task, string? Checkpoint, string? TrainFile,
    string? Metric, double? Value, double? DurationSeconds, RunProgressView? Progress, DateTime Modified, bool HasOnnx);

/// <summary>A running run's position, as progress.json and log.csv show it.</summary>
/// <param name="Step">The last optimizer step.</param>
/// <param name="TotalSteps">Steps in the whole run.</param>
/// <param name="Epoch">The current epoch.</param>
/// <param name="Epochs">Epochs in the run.</param>
/// <param name="Loss">The last step's loss.</param>
/// <param name="RemainingSeconds">The estimate of the time left.</param>
/// <param name="SecondsSinceUpdate">How long ago the run last reported.</param>
public sealed record RunProgressView(int Step, int? TotalSteps, int? Epoch, int? Epochs, double? Loss, double? RemainingSeconds, double SecondsSinceUpdate);

/// <summary>A sweep in the runs list.</summary>
/// <param name="Id">Its folder's id.</param>
/// <param name="Trials">How many trial folders it has.</param>
/// <param name="Completed">How many of them completed.</param>
/// <param name="Finished">Whether sweep.json is written (the sweep ran to its end).</param>
/// <param name="Problem">Why sweep.json could not be read, or null.</param>
public sealed record SweepSummary(string Id, int Trials, int Completed, bool Finished, string? Problem);

/// <summary>Reads one run folder for the dashboard, never throwing for a damaged or half-written one.</summary>
internal static class RunReader
{
    public static RunSummary Summary(RunFolder run, string id, string? sweep)
    {
        DateTime modified = File.GetLastWriteTimeUtc(run.RunJson);
        bool onnx = File.Exists(run.ModelOnnx);
        JsonObject json;
        try
        {
            json = run.ReadRunJson();
        }
        catch (BadInputException e)
        {
            return new RunSummary(id, sweep, "damaged", Relative(e.Message, run), null, null, null, null, null, null, null, modified, onnx);
        }
        catch (IOException e)
        {
            return new RunSummary(id, sweep, "damaged", e.Message, null, null, null, null, null, null, null, modified, onnx);
        }
        string? task = Text(json["task"]);
        string? checkpoint = Text((json["checkpoint"] as JsonObject)?["name"]) ?? Text((json["options"] as JsonObject)?["checkpoint"]);
        string? trainPath = Text(((json["data"] as JsonObject)?["train"] as JsonObject)?["path"]);
        string? trainFile = trainPath is null ? null : Path.GetFileName(trainPath);
        string statusText = Text(json["status"]) ?? (File.Exists(run.MetricsJson) ? "completed" : "running");
        string status = statusText is "running" or "completed" or "interrupted" or "failed" ? statusText : "damaged";
        string? problem = status == "damaged" ? $"run.json: status '{statusText}' is not one of running, completed, interrupted, failed" : Text(json["error"]);

        var (metrics, metricsProblem) = ReadJson(run.MetricsJson);
        string? metric = Text(metrics?["validation_metric"]);
        double? value = metric is null ? null : FinalValue(metrics!, metric);
        double? duration = Number(metrics?["training_seconds"]);

        RunProgressView? progress = null;
        if (status == "running")
        {
            progress = ReadProgress(run);
            duration ??= progress is null ? null : Number(ReadJson(run.ProgressJson).Json?["elapsed_seconds"]);
            int? pid = Integer(json["pid"]);
            if (pid is not null && !IsAlive(pid.Value))
            {
                status = "stalled";
                problem = $"run.json says running, but its process (pid {pid}) is gone: the run was killed"
                    + (run.HasResumableState ? "; continue it with: mlnetbert train --resume " + run.Path : " before it saved a checkpoint");
            }
        }
        else if (status == "completed" && metricsProblem is not null)
        {
            status = "damaged";
            problem = metricsProblem;
        }
        else if (status == "completed" && !File.Exists(run.ModelZip))
        {
            status = "damaged";
            problem = "run.json says completed, but model.zip is missing";
        }
        else if (status == "interrupted")
        {
            problem = run.HasResumableState ? "interrupted; continue it with: mlnetbert train --resume " + run.Path : "interrupted before it saved a checkpoint";
        }
        return new RunSummary(id, sweep, status, problem, task, checkpoint, trainFile, metric, value, duration, progress, modified, onnx);
    }

    /// <summary>The validation metric's final value: metrics.json's <c>final</c>, else the best (or last) epoch's.</summary>
    public static double? FinalValue(JsonObject metrics, string metric)
    {
        if (Number((metrics["final"] as JsonObject)?[metric]) is { } final)
            return final;
        if (metrics["epochs"] is JsonArray epochs && epochs.Count > 0)
        {
            int? best = Integer(metrics["best_epoch"]);
            var row = epochs.OfType<JsonObject>().FirstOrDefault(e => Integer(e["epoch"]) == best) ?? epochs[^1] as JsonObject;
            return Number(row?["validation_" + metric]);
        }
        return null;
    }

    public static RunProgressView? ReadProgress(RunFolder run)
    {
        var (json, _) = ReadJson(run.ProgressJson);
        if (json is not null && Integer(json["step"]) is { } step)
        {
            double age = (DateTime.UtcNow - File.GetLastWriteTimeUtc(run.ProgressJson)).TotalSeconds;
            return new RunProgressView(step, Integer(json["total_steps"]), Integer(json["epoch"]), Integer(json["epochs"]), Number(json["loss"]),
                Number(json["remaining_seconds"]), Math.Round(age, 1));
        }
        // No progress.json yet (or from a version without it): the last step of log.csv.
        var log = TrainingLog.Read(run.LogCsv);
        if (log.Steps.Count == 0)
            return null;
        var last = log.Steps[^1];
        return new RunProgressView(last.Step, null, last.Epoch, null, last.Loss, null,
            Math.Round((DateTime.UtcNow - File.GetLastWriteTimeUtc(run.LogCsv)).TotalSeconds, 1));
    }

    /// <summary>A JSON object file, or null and why not (missing, not JSON, not an object).</summary>
    public static (JsonObject? Json, string? Problem) ReadJson(string path)
    {
        if (!File.Exists(path))
            return (null, Path.GetFileName(path) + " is missing");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) is JsonObject o ? (o, null) : (null, Path.GetFileName(path) + ": damaged (not a JSON object)");
        }
        catch (JsonException e)
        {
            return (null, $"{Path.GetFileName(path)}: damaged (not valid JSON: {e.Message})");
        }
        catch (IOException e)
        {
            return (null, $"{Path.GetFileName(path)}: cannot be read ({e.Message})");
        }
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId)
            return true;
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    // Messages from RunFolder name the full path; the page shows the run's id already.
    private static string Relative(string message, RunFolder run) => message.Replace(run.Path + Path.DirectorySeparatorChar, "");

    public static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue(out string? s) ? s : null;

    public static double? Number(JsonNode? node) => node is JsonValue v && v.TryGetValue(out double d) ? d : null;

    public static int? Integer(JsonNode? node) => node is JsonValue v && v.TryGetValue(out int i) ? i : null;
}
